"""Unit tests of the corpus tools (standard library only):

    python3 -m unittest discover -s scripts/news -p 'test_*.py'
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agreement  # noqa: E402
import corpus  # noqa: E402
import examples  # noqa: E402
import validate  # noqa: E402

TEXT = "Blair met Bush. The US and USA said Blair fined Acme, not Bush."


def meta():
    return {"id": "t", "sha256": corpus.text_sha256(TEXT), "sentences": corpus.split_sentences(TEXT)}


class SplitAndFind(unittest.TestCase):
    def test_sentences_and_titles(self):
        text = "Mr Blair met Dr. Smith in London. He left. J. Smith stayed."
        got = [text[s:e] for s, e in corpus.split_sentences(text)]
        self.assertEqual(got, ["Mr Blair met Dr. Smith in London.", "He left.", "J. Smith stayed."])

    def test_whole_words_only(self):
        self.assertEqual(corpus.find_all("The US and USA", "US"), [4])
        self.assertEqual(corpus.find_all("Chelsea's Terry", "'s"), [7])
        self.assertEqual(corpus.find_all("London-based HSBC", "-based"), [6])


class Validate(unittest.TestCase):
    def run_one(self, sentences):
        rejects = validate.Rejects()
        rec = validate.validate_article({"id": "t", "sentences": sentences}, meta(), TEXT, rejects)
        return rec, rejects.messages

    def test_offsets_and_relation(self):
        rec, msgs = self.run_one([
            {"n": 0, "entities": [["Blair", "PER"], ["Bush", "PER"]],
             "relations": [{"head": "Blair", "tail": "Bush", "label": "met", "phrase": "met"}]},
            {"n": 1, "entities": [["US", "LOC"], ["Blair", "PER"], ["Acme", "ORG"]],
             "relations": [{"head": "Blair", "tail": "Acme", "label": "action", "phrase": "fined"}]},
        ])
        self.assertEqual(msgs, [])
        ents = rec["entities"]
        for e in ents:
            self.assertEqual(TEXT[e["start"]:e["end"]], e["text"])
        self.assertEqual([e["text"] for e in ents], ["Blair", "Bush", "US", "Blair", "Acme"])
        r = rec["relations"][1]
        self.assertEqual((ents[r["head"]]["text"], ents[r["tail"]]["text"]), ("Blair", "Acme"))
        self.assertEqual(TEXT[r["phrase_start"]:r["phrase_end"]], "fined")

    def test_rejections(self):
        rec, msgs = self.run_one([
            {"n": 0, "entities": [["Blair", "PER"], ["Bush", "PERSON"], ["Bus", "PER"]],
             "relations": [{"head": "Blair", "tail": "Bush", "label": "met", "phrase": "met"}]},
            {"n": 1, "entities": [["Blair", "PER"], ["Acme", "ORG"], ["Bush", "PER"]],
             "relations": [{"head": "Acme", "tail": "Blair", "label": "works_for", "phrase": ""},
                           {"head": "Blair", "tail": "Bush", "label": "action",
                            "phrase": "not", "negated": False},
                           {"head": "Blair", "tail": "Acme", "label": "action",
                            "phrase": "fined", "negated": True}]},
        ])
        text = "\n".join(msgs)
        self.assertIn("unknown label 'PERSON'", text)
        self.assertIn("'Bus' not found", text)
        self.assertIn("tail 'Bush' is not an entity", text)
        self.assertIn("works_for needs", text)
        self.assertIn("carries no negation", text)
        self.assertEqual(len(rec["relations"]), 1)

    def test_missing_sentence_rejects_the_article(self):
        rec, msgs = self.run_one([{"n": 0, "entities": [], "relations": []}])
        self.assertIsNone(rec)
        self.assertIn("sentences not annotated: [1]", msgs[0])

    def test_ambiguous_phrase_needs_an_occurrence(self):
        text = "A met B and met C."
        rejects = validate.Rejects()
        m = {"id": "t", "sha256": "", "sentences": [[0, len(text)]]}
        ann = {"id": "t", "sentences": [{"n": 0, "entities": [["A", "PER"], ["C", "PER"]],
                                         "relations": [{"head": "A", "tail": "C", "label": "met",
                                                        "phrase": "met"}]}]}
        self.assertEqual(validate.validate_article(ann, m, text, rejects)["relations"], [])
        self.assertIn("occurs 2 times", rejects.messages[0])
        ann["sentences"][0]["relations"][0]["phrase_occ"] = 2
        rejects = validate.Rejects()
        rec = validate.validate_article(ann, m, text, rejects)
        self.assertEqual(rec["relations"][0]["phrase_start"], 12)


class LoadCorpus(unittest.TestCase):
    def test_join_and_hash_check(self):
        import json
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            rec = {"id": "t", "sha256": corpus.text_sha256(TEXT), "sentences": [],
                   "entities": [{"start": 0, "end": 5, "text": "Blair", "label": "PER"}],
                   "relations": []}
            cpath, dpath = os.path.join(d, "c.jsonl"), os.path.join(d, "d.jsonl")
            with open(cpath, "w") as f:
                f.write(json.dumps(rec) + "\n")
            with open(dpath, "w") as f:
                f.write(json.dumps({"id": "t", "text": TEXT}) + "\n")
            self.assertEqual(corpus.load_corpus(cpath, dpath)[0]["text"], TEXT)
            with open(dpath, "w") as f:
                f.write(json.dumps({"id": "t", "text": TEXT.replace("Bush", "Bash")}) + "\n")
            with self.assertRaisesRegex(ValueError, "sha256 mismatch"):
                corpus.load_corpus(cpath, dpath)


class CommittedCorpus(unittest.TestCase):
    """data/news/*.jsonl is consistent on its own (the texts are not in the repository)."""

    def test_records_fit_the_schema(self):
        import json
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "news")
        ids = {}
        for split in ("train", "dev"):
            path = os.path.join(root, split + ".jsonl")
            if not os.path.exists(path):
                self.skipTest("no corpus")
            with open(path, encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    self.assertNotIn(r["id"], ids, "an article in two places")
                    ids[r["id"]] = split
                    sents = r["sentences"]
                    for e in r["entities"]:
                        self.assertIn(e["label"], corpus.ENTITY_LABELS)
                        s0, s1 = sents[e["sentence"]]
                        self.assertTrue(s0 <= e["start"] < e["end"] <= s1, e)
                        self.assertEqual(len(e["text"]), e["end"] - e["start"])
                    for x in r["relations"]:
                        h, t = r["entities"][x["head"]], r["entities"][x["tail"]]
                        heads, tails = corpus.RELATION_SIGNATURES[x["label"]]
                        self.assertIn(h["label"], heads)
                        self.assertIn(t["label"], tails)
                        self.assertEqual(h["sentence"], x["sentence"])
                        self.assertEqual(t["sentence"], x["sentence"])
                        if x["phrase"]:
                            s0, s1 = sents[x["sentence"]]
                            self.assertTrue(s0 <= x["phrase_start"] < x["phrase_end"] <= s1)
        self.assertGreaterEqual(sum(1 for v in ids.values() if v == "dev"), 1)


class Examples(unittest.TestCase):
    def test_tokens_tags_and_relations_by_hand(self):
        text = "Chelsea's John Terry met Bush in 2004."
        record = {"id": "t", "text": text, "sentences": [[0, len(text)]],
                  "entities": [{"start": 0, "end": 7, "label": "ORG", "sentence": 0},
                               {"start": 10, "end": 20, "label": "PER", "sentence": 0},
                               {"start": 25, "end": 29, "label": "PER", "sentence": 0},
                               {"start": 33, "end": 37, "label": "DATE", "sentence": 0}],
                  "relations": [{"head": 1, "tail": 0, "label": "works_for", "phrase": "'s",
                                 "phrase_start": 7, "phrase_end": 9, "negated": False, "sentence": 0}]}
        ex = examples.sentence_examples(record)[0]
        self.assertEqual(ex["words"], ["Chelsea", "'", "s", "John", "Terry", "met", "Bush", "in", "2004", "."])
        self.assertEqual(ex["names"], ["B-ORG", "O", "O", "B-PER", "I-PER", "O", "B-PER", "O", "O", "O"])
        self.assertEqual(ex["values"][8], "B-DATE")
        self.assertEqual(ex["relations"], [{"head": (3, 5), "tail": (0, 1), "label": "works_for",
                                            "phrase": (1, 3), "negated": False}])
        self.assertEqual(ex["misaligned"], 0)


class Agreement(unittest.TestCase):
    def test_hand_computed(self):
        def rec(ents, rels):
            return {"entities": [{"start": s, "end": e, "label": l, "text": "x"} for s, e, l in ents],
                    "relations": rels}
        rel = lambda h, t, label, phrase, at: {  # noqa: E731
            "head": h, "tail": t, "label": label, "phrase": phrase, "phrase_start": at,
            "negated": False, "sentence": 0}
        a = rec([(0, 5, "PER"), (10, 14, "PER"), (18, 22, "DATE")],
                [rel(0, 1, "met", "held talks with", 6)])
        b = rec([(0, 5, "PER"), (10, 14, "ORG"), (18, 22, "DATE")],
                [rel(0, 1, "action", "talks with", 11)])
        c, phrase, _ = agreement.compare({"t": a}, {"t": b})
        self.assertEqual((c["names_tp"], c["values_tp"], c["pairs_tp"], c["label_tp"]), (1, 1, 1, 0))
        # tokens: held talks with (3) vs talks with (2): 2*2/5
        self.assertAlmostEqual(phrase[0], 0.8)


if __name__ == "__main__":
    unittest.main()

"""Shared pieces of the erx news corpus: the dump reader, the sentence splitter used
to number sentences for annotators, the label schema and text hashing.

Standard library only, so every corpus script runs on a bare Python 3.
"""
import hashlib
import json
import re

NAME_LABELS = ("PER", "ORG", "LOC", "MISC")
VALUE_LABELS = ("DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL")
ENTITY_LABELS = NAME_LABELS + VALUE_LABELS

# label -> (head types, tail types); docs/annotation.md section 3 is the source.
RELATION_SIGNATURES = {
    "works_for": ({"PER"}, {"ORG", "LOC", "PER"}),
    "lives_in": ({"PER"}, {"LOC"}),
    "based_in": ({"ORG"}, {"LOC"}),
    "located_in": ({"LOC", "MISC"}, {"LOC"}),
    "killed": ({"PER", "ORG"}, {"PER"}),
    "part_of": ({"ORG", "LOC"}, {"ORG"}),
    "owns": ({"PER", "ORG"}, {"ORG", "MISC"}),
    "family": ({"PER"}, {"PER"}),
    "social": ({"PER"}, {"PER"}),
    "affiliation": ({"PER", "ORG"}, {"ORG", "LOC", "MISC"}),
    "met": ({"PER", "ORG", "LOC"}, {"PER", "ORG", "LOC"}),
    "action": ({"PER", "ORG", "LOC"}, {"PER", "ORG", "LOC", "MISC"}),
}
RELATION_LABELS = tuple(RELATION_SIGNATURES)

# CoNLL04 label -> erx news label, one to one.
CONLL04_TO_NEWS = {
    "Work_For": "works_for",
    "Live_In": "lives_in",
    "OrgBased_In": "based_in",
    "Located_In": "located_in",
    "Kill": "killed",
}

# A word token: a run of letters and digits, or one other non-space character. Phrases
# are compared and training examples tokenised on these (erx's phrase_tokens agrees).
TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)

_NO_SPLIT_AFTER = {
    "mr", "mrs", "ms", "dr", "st", "prof", "gen", "col", "lt", "sgt", "capt", "rev",
    "sen", "rep", "gov", "jr", "sr", "vs", "no", "inc", "corp", "co", "ltd", "plc",
    "e.g", "i.e", "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
}
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def text_sha256(text):
    """Hex sha256 of the UTF-8 text, used to check the dump a record is joined with."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_dump(path):
    """{id: record} for the article dump (JSONL with id, category, text)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out[rec["id"]] = rec
    return out


def split_sentences(text):
    """Code-point [start, end) ranges of sentences, whitespace trimmed.

    A boundary is terminal punctuation (plus closing quotes) then whitespace then a
    capital, digit or opening quote, except after a title or a single initial.
    """
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        dot = m.start()
        word = re.search(r"[\w.]*$", text[start:dot]).group(0).lower()
        if text[dot] == "." and (word in _NO_SPLIT_AFTER or re.fullmatch(r"\w", word)
                                 or re.fullmatch(r"(\w\.)+\w", word)):
            continue
        end = m.end()
        _push(text, start, end, spans)
        start = end
    _push(text, start, len(text), spans)
    return spans


def _push(text, start, end, spans):
    seg = text[start:end]
    lead = len(seg) - len(seg.lstrip())
    body = seg.strip()
    if body:
        spans.append([start + lead, start + lead + len(body)])


def find_all(haystack, needle):
    """Start offsets of `needle` in `haystack` that sit on word boundaries.

    A side of the needle that is a letter or digit must not touch another letter or
    digit ("US" is not found in "USA"); a side that is punctuation ("'s", "-based")
    may touch anything.
    """
    if not needle:
        return []
    out, i = [], haystack.find(needle)
    while i >= 0:
        j = i + len(needle)
        left_ok = not needle[0].isalnum() or i == 0 or not haystack[i - 1].isalnum()
        right_ok = not needle[-1].isalnum() or j == len(haystack) or not haystack[j].isalnum()
        if left_ok and right_ok:
            out.append(i)
        i = haystack.find(needle, i + 1)
    return out


def load_corpus(path, dump_path):
    """Corpus records from `path` (JSONL) joined with their article text from the dump.

    Each record gains a "text" field. Raises ValueError when an article is missing from
    the dump or its text's sha256 differs from the annotated one (the offsets would be
    wrong), or when a mention's text is not at its offsets.
    """
    dump = read_dump(dump_path)
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            art = dump.get(rec["id"])
            if art is None:
                raise ValueError(f"{path}:{n}: article {rec['id']} is not in {dump_path}")
            if text_sha256(art["text"]) != rec["sha256"]:
                raise ValueError(f"{path}:{n}: article {rec['id']}: the text in {dump_path} differs "
                                 "from the annotated one (sha256 mismatch)")
            for m in rec["entities"]:
                if art["text"][m["start"]:m["end"]] != m["text"]:
                    raise ValueError(f"{path}:{n}: mention {m['text']!r} is not at {m['start']}..{m['end']}")
            rec["text"] = art["text"]
            out.append(rec)
    return out

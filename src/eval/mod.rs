//! Evaluation of extracted entities and relations against gold annotations.
//!
//! Scoring is *strict*, following the CoNLL shared tasks (`conlleval`):
//!
//! * an entity counts as correct only if its token span `[start, end)` and its
//!   type both equal a gold entity's;
//! * a relation counts as correct only if its label and both argument spans,
//!   types included, equal a gold relation's;
//! * matching is done per sentence with multiset semantics: each gold item can
//!   be matched once, so a duplicated prediction is a false positive;
//! * micro precision, recall and F1 are computed from counts summed over all
//!   sentences and labels; per-label scores use the same counts split by label
//!   (the entity type, or the relation label).
//!
//! Spans are token indices over the *gold* tokenisation, so predictions must be
//! projected onto gold tokens before scoring.
//!
//! [`gold`] reads CoNLL-2003, CoNLL04 and CrossRE files into [`GoldSentence`]s,
//! with entity types mapped to the CoNLL-2003 scheme (PER, ORG, LOC, MISC); [`news`]
//! reads the erx news corpus (article-level, code-point offsets) and scores on it.

pub mod gold;
pub mod news;
pub mod score;

pub use gold::{
    map_conll04_type, map_crossre_type, parse_conll04, parse_conll2003, parse_crossre, read_gold,
    GoldError, GoldFormat, GoldSentence, Location,
};
pub use news::{read_news, NewsArticle, NewsScorer, NewsScores};
pub use score::{chunks, Labelled, Prf, RelationTuple, Scorer, Scores, Span};

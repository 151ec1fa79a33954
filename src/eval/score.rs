//! Strict precision / recall / F1 scoring with `conlleval` semantics.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// A labelled span over gold tokens, `[start, end)` token indices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// First token of the span.
    pub start: usize,
    /// One past the last token of the span.
    pub end: usize,
    /// Entity type, e.g. `PER`.
    pub label: String,
}

impl Span {
    /// Builds a span from its parts.
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Span {
            start,
            end,
            label: label.into(),
        }
    }
}

/// A relation between two typed spans; strict match needs both spans (with types) and the label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelationTuple {
    /// First argument of the relation.
    pub head: Span,
    /// Second argument of the relation.
    pub tail: Span,
    /// Relation label, e.g. `Work_For`.
    pub label: String,
}

/// Anything scored per label: the entity type of a [`Span`], the relation label of a
/// [`RelationTuple`].
pub trait Labelled {
    /// The label this item is counted under in per-label scores.
    fn label(&self) -> &str;
}

impl Labelled for Span {
    fn label(&self) -> &str {
        &self.label
    }
}

impl Labelled for RelationTuple {
    fn label(&self) -> &str {
        &self.label
    }
}

/// Precision / recall / F1 with the counts behind them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    /// True positives: predictions that match a gold item.
    pub tp: usize,
    /// False positives: predictions with no (remaining) gold match.
    pub fp: usize,
    /// False negatives: gold items no prediction matched.
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// `tp / (tp + fp)`, 0 when nothing was predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when there is no gold item.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
}

impl Prf {
    /// Computes precision, recall and F1 from counts.
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Self {
        let ratio = |num: usize, den: usize| {
            if den == 0 {
                0.0
            } else {
                num as f64 / den as f64
            }
        };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            tp,
            fp,
            fn_,
            precision,
            recall,
            f1,
        }
    }
}

/// Micro scores plus per-label scores (BTreeMap for stable order).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Scores over all labels pooled.
    pub micro: Prf,
    /// Scores for each label seen in gold or predictions.
    pub per_label: BTreeMap<String, Prf>,
}

/// True positives, false positives and false negatives of one label.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) tp: usize,
    pub(crate) fp: usize,
    pub(crate) fn_: usize,
}

/// Micro and per-label scores from counts per label.
pub(crate) fn summarise(counts: &BTreeMap<String, Counts>) -> Scores {
    let mut total = Counts::default();
    let mut per_label = BTreeMap::new();
    for (label, c) in counts {
        total.tp += c.tp;
        total.fp += c.fp;
        total.fn_ += c.fn_;
        per_label.insert(label.clone(), Prf::from_counts(c.tp, c.fp, c.fn_));
    }
    Scores {
        micro: Prf::from_counts(total.tp, total.fp, total.fn_),
        per_label,
    }
}

/// Accumulates gold and predicted items sentence by sentence (multiset semantics per
/// sentence: duplicates in prediction count as false positives).
#[derive(Debug, Clone)]
pub struct Scorer<T> {
    counts: BTreeMap<String, Counts>,
    // fn(&T) keeps the scorer Send/Sync regardless of T; no T is stored.
    _item: PhantomData<fn(&T)>,
}

impl<T: Labelled + Eq + Hash> Default for Scorer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Labelled + Eq + Hash> Scorer<T> {
    /// An empty scorer.
    pub fn new() -> Self {
        Scorer {
            counts: BTreeMap::new(),
            _item: PhantomData,
        }
    }

    /// Adds one sentence's gold and predicted items.
    pub fn add(&mut self, gold: &[T], predicted: &[T]) {
        // Matching must stay within the sentence: the same span in two sentences is two items.
        let mut unmatched: HashMap<&T, usize> = HashMap::new();
        for item in gold {
            *unmatched.entry(item).or_default() += 1;
        }
        for item in predicted {
            let counts = self.counts_for(item.label());
            match unmatched.get_mut(item) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    counts.tp += 1;
                }
                _ => counts.fp += 1,
            }
        }
        for (item, left) in unmatched {
            if left > 0 {
                self.counts_for(item.label()).fn_ += left;
            }
        }
    }

    /// Micro and per-label scores over everything added so far.
    pub fn scores(&self) -> Scores {
        summarise(&self.counts)
    }

    fn counts_for(&mut self, label: &str) -> &mut Counts {
        self.counts.entry(label.to_owned()).or_default()
    }
}

/// Position of a tag within its chunk, with the BILOU/IOBES synonyms folded together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Begin,
    Inside,
    End,
    Single,
}

/// Splits a tag into its part and type; `None` for `O` and for anything that is not
/// `PREFIX-TYPE` with a known prefix.
fn split_tag(tag: &str) -> Option<(Part, &str)> {
    let (prefix, ty) = tag.split_once('-')?;
    let part = match prefix {
        "B" => Part::Begin,
        "I" => Part::Inside,
        "E" | "L" => Part::End,
        "S" | "U" => Part::Single,
        _ => return None,
    };
    (!ty.is_empty()).then_some((part, ty))
}

/// Whether `chunks` understands `tag`: `O` or a B/I/L/E/U/S prefix, a dash and a non-empty type.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    tag == "O" || split_tag(tag).is_some()
}

/// conlleval chunking of a tag sequence: BIO (IOB2), IOB1 and BILOU/IOBES tags all accepted.
///
/// Semantics as conlleval's startOfChunk/endOfChunk: an I-X after O or after a different type
/// starts a new chunk; B-X always starts one; L-/E- and U-/S- end one; "O" outside. An I-X or
/// E-X right after a chunk was closed by E-/L-/S-/U- starts a new chunk. Tags that are neither
/// `O` nor `PREFIX-TYPE` with a known prefix are treated as `O`. Chunks come out in order.
pub fn chunks(tags: &[&str]) -> Vec<Span> {
    let mut out = Vec::new();
    // The chunk still accepting I-/E- continuations: (start, type).
    let mut open: Option<(usize, &str)> = None;
    for (i, tag) in tags.iter().enumerate() {
        let cur = split_tag(tag);
        let continues = matches!(
            (open, cur),
            (Some((_, open_ty)), Some((Part::Inside | Part::End, ty))) if ty == open_ty
        );
        if !continues {
            if let Some((start, ty)) = open.take() {
                out.push(Span::new(start, i, ty));
            }
            if let Some((_, ty)) = cur {
                open = Some((i, ty));
            }
        }
        if let (Some((start, ty)), Some((Part::End | Part::Single, _))) = (open, cur) {
            out.push(Span::new(start, i + 1, ty));
            open = None;
        }
    }
    if let Some((start, ty)) = open {
        out.push(Span::new(start, tags.len(), ty));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(start: usize, end: usize, label: &str) -> Span {
        Span::new(start, end, label)
    }

    fn tags(line: &str) -> Vec<Span> {
        chunks(&line.split_whitespace().collect::<Vec<_>>())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn bio_basic() {
        assert_eq!(
            tags("B-PER I-PER O B-LOC O"),
            vec![s(0, 2, "PER"), s(3, 4, "LOC")]
        );
    }

    #[test]
    fn inside_without_begin_starts_chunk() {
        assert_eq!(
            tags("O I-ORG I-ORG O I-LOC"),
            vec![s(1, 3, "ORG"), s(4, 5, "LOC")]
        );
        assert_eq!(tags("I-MISC"), vec![s(0, 1, "MISC")]);
    }

    #[test]
    fn inside_after_other_type_starts_chunk() {
        assert_eq!(
            tags("B-PER I-LOC I-LOC"),
            vec![s(0, 1, "PER"), s(1, 3, "LOC")]
        );
    }

    #[test]
    fn adjacent_same_type() {
        assert_eq!(tags("B-PER B-PER"), vec![s(0, 1, "PER"), s(1, 2, "PER")]);
        assert_eq!(
            tags("B-PER I-PER B-PER"),
            vec![s(0, 2, "PER"), s(2, 3, "PER")]
        );
    }

    #[test]
    fn iob1() {
        // IOB1 only uses B- to separate two adjacent chunks of one type.
        assert_eq!(
            tags("I-PER I-PER B-PER O I-LOC"),
            vec![s(0, 2, "PER"), s(2, 3, "PER"), s(4, 5, "LOC")]
        );
    }

    #[test]
    fn bilou() {
        assert_eq!(
            tags("U-Loc O B-Org I-Org L-Org U-Peop"),
            vec![s(0, 1, "Loc"), s(2, 5, "Org"), s(5, 6, "Peop")]
        );
        // Two adjacent unit chunks of one type stay separate.
        assert_eq!(tags("U-Loc U-Loc"), vec![s(0, 1, "Loc"), s(1, 2, "Loc")]);
    }

    #[test]
    fn iobes() {
        assert_eq!(
            tags("S-PER B-ORG E-ORG S-ORG O"),
            vec![s(0, 1, "PER"), s(1, 3, "ORG"), s(3, 4, "ORG")]
        );
        // An E- or I- right after a closed chunk opens a new one.
        assert_eq!(
            tags("B-ORG E-ORG E-ORG I-ORG"),
            vec![s(0, 2, "ORG"), s(2, 3, "ORG"), s(3, 4, "ORG")]
        );
    }

    #[test]
    fn chunk_at_end_of_sentence() {
        assert_eq!(tags("O O B-LOC I-LOC"), vec![s(2, 4, "LOC")]);
        assert_eq!(tags("O B-LOC"), vec![s(1, 2, "LOC")]);
    }

    #[test]
    fn all_outside_and_empty() {
        assert!(tags("O O O").is_empty());
        assert!(chunks(&[]).is_empty());
    }

    #[test]
    fn malformed_tags_are_outside() {
        assert_eq!(
            tags("B-PER X-PER B- I-PER"),
            vec![s(0, 1, "PER"), s(3, 4, "PER")]
        );
        assert!(is_valid_tag("O") && is_valid_tag("U-Loc"));
        assert!(!is_valid_tag("B-") && !is_valid_tag("PER") && !is_valid_tag("o"));
    }

    #[test]
    fn prf_from_counts() {
        let p = Prf::from_counts(1, 1, 2);
        assert!(close(p.precision, 0.5) && close(p.recall, 1.0 / 3.0) && close(p.f1, 0.4));
        assert_eq!(Prf::from_counts(0, 0, 0), Prf::default());
        let json = serde_json::to_value(Prf::from_counts(1, 0, 0)).unwrap();
        assert_eq!(json["fn"], 0);
        assert_eq!(json["f1"], 1.0);
    }

    #[test]
    fn micro_and_per_label() {
        let mut scorer = Scorer::new();
        // Sentence 1: gold PER, LOC; predicted PER (right), LOC with the wrong end.
        scorer.add(
            &[s(0, 1, "PER"), s(3, 5, "LOC")],
            &[s(0, 1, "PER"), s(3, 4, "LOC")],
        );
        // Sentence 2: gold ORG; predicted nothing.
        scorer.add(&[s(2, 3, "ORG")], &[]);
        // Sentence 3: the same PER span as sentence 1 is a separate item here.
        scorer.add(&[], &[s(0, 1, "PER")]);
        let scores = scorer.scores();
        // tp 1, fp 2, fn 2: P = 1/3, R = 1/3, F1 = 1/3.
        let m = scores.micro;
        assert_eq!((m.tp, m.fp, m.fn_), (1, 2, 2));
        assert!(close(m.precision, 1.0 / 3.0) && close(m.recall, 1.0 / 3.0));
        assert!(close(m.f1, 1.0 / 3.0));
        let per = &scores.per_label;
        assert_eq!(per.keys().collect::<Vec<_>>(), ["LOC", "ORG", "PER"]);
        assert_eq!((per["PER"].tp, per["PER"].fp, per["PER"].fn_), (1, 1, 0));
        assert!(close(per["PER"].precision, 0.5) && close(per["PER"].recall, 1.0));
        assert!(close(per["PER"].f1, 2.0 / 3.0));
        assert_eq!((per["LOC"].tp, per["LOC"].fp, per["LOC"].fn_), (0, 1, 1));
        assert_eq!(per["LOC"].f1, 0.0);
        assert_eq!((per["ORG"].tp, per["ORG"].fp, per["ORG"].fn_), (0, 0, 1));
    }

    #[test]
    fn three_gold_two_predicted_one_correct() {
        let mut scorer = Scorer::new();
        scorer.add(
            &[s(0, 1, "PER"), s(2, 3, "ORG"), s(4, 6, "LOC")],
            &[s(0, 1, "PER"), s(2, 3, "LOC")],
        );
        let m = scorer.scores().micro;
        assert_eq!((m.tp, m.fp, m.fn_), (1, 1, 2));
        assert!(close(m.precision, 0.5) && close(m.recall, 1.0 / 3.0) && close(m.f1, 0.4));
    }

    #[test]
    fn duplicate_predictions_are_false_positives() {
        let mut scorer = Scorer::new();
        scorer.add(&[s(0, 2, "ORG")], &[s(0, 2, "ORG"), s(0, 2, "ORG")]);
        let m = scorer.scores().micro;
        assert_eq!((m.tp, m.fp, m.fn_), (1, 1, 0));
        // Duplicated gold items each need their own prediction.
        let mut scorer = Scorer::new();
        scorer.add(&[s(0, 2, "ORG"), s(0, 2, "ORG")], &[s(0, 2, "ORG")]);
        let m = scorer.scores().micro;
        assert_eq!((m.tp, m.fp, m.fn_), (1, 0, 1));
    }

    #[test]
    fn relations_need_typed_spans_and_label() {
        let rel = |head: &str, label: &str| RelationTuple {
            head: s(0, 2, head),
            tail: s(4, 5, "LOC"),
            label: label.to_owned(),
        };
        let gold = [rel("PER", "Live_In")];
        let mut scorer = Scorer::new();
        // Same spans and label, but the head is typed ORG: no match.
        scorer.add(&gold, &[rel("ORG", "Live_In")]);
        // Same typed spans, wrong label: no match.
        scorer.add(&gold, &[rel("PER", "Work_For")]);
        scorer.add(&gold, &[rel("PER", "Live_In")]);
        let scores = scorer.scores();
        let m = scores.micro;
        assert_eq!((m.tp, m.fp, m.fn_), (1, 2, 2));
        let live = scores.per_label["Live_In"];
        assert_eq!((live.tp, live.fp, live.fn_), (1, 1, 2));
        let work = scores.per_label["Work_For"];
        assert_eq!((work.tp, work.fp, work.fn_), (0, 1, 0));
    }

    #[test]
    fn empty_scorer() {
        let scores = Scorer::<Span>::new().scores();
        assert_eq!(scores, Scores::default());
    }
}

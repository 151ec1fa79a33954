//! Decode stage: model scores of one sentence → mentions, predicate phrases and relations.
//!
//! Pure logic over [`TokenRows`], testable without a model:
//! - **Entities**: each word's tag scores are read at its first piece, and the most
//!   probable tag sequence that obeys BIO (an `I-X` only after `B-X` or `I-X`) is found by
//!   Viterbi search, so a mention is a run of whole words.
//! - **Relations**: a mention's head/tail vector is the mean of its pieces' `rel_head` /
//!   `rel_tail` rows; the score of label `r` for an ordered pair is the sigmoid of their
//!   per-label dot product. Only pairs of mentions in the same sentence and at most
//!   [`MAX_MENTIONS_APART`] mentions apart are scored, and a label's type signature (from
//!   the model card) must allow the pair.
//! - **Phrases**: see [`choose_phrase`].
//! - **Open links**: label-free subject–predicate–object links read off the predicted
//!   predicates; see [`decode_open_relations`].

use std::ops::Range;

use crate::card::{PhraseScorer, RelationContext};
use crate::tokenize::{Word, WordClass};

/// Per-piece model outputs of one sentence.
pub trait TokenRows {
    /// Entity tag logits of piece `t`.
    fn entity(&self, t: usize) -> &[f32];
    /// Predicate tag logits (O, B, I) of piece `t`.
    fn phrase(&self, t: usize) -> &[f32];
    /// Relation head projection of piece `t`, `relations × rank` values.
    fn rel_head(&self, t: usize) -> &[f32];
    /// Relation tail projection of piece `t`, `relations × rank` values.
    fn rel_tail(&self, t: usize) -> &[f32];
    /// Value tag logits of piece `t` (empty when the model has no value head).
    fn value(&self, _t: usize) -> &[f32] {
        &[]
    }
    /// Phrase-scorer token projection of piece `t`, `rank + 1` values (empty without a
    /// phrase scorer).
    fn phrase_token(&self, _t: usize) -> &[f32] {
        &[]
    }
    /// Phrase-scorer head projection of piece `t`, `rank` values.
    fn phrase_head(&self, _t: usize) -> &[f32] {
        &[]
    }
    /// Phrase-scorer tail projection of piece `t`, `rank` values.
    fn phrase_tail(&self, _t: usize) -> &[f32] {
        &[]
    }
    /// Pair-context scores of piece `t`, `2 × relations` values (empty without pair
    /// context; see [`RelationContext`]).
    fn rel_context(&self, _t: usize) -> &[f32] {
        &[]
    }
}

/// Which tag head a BIO decoding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagHead {
    Entity,
    Value,
}

fn tag_row(rows: &dyn TokenRows, head: TagHead, t: usize) -> &[f32] {
    match head {
        TagHead::Entity => rows.entity(t),
        TagHead::Value => rows.value(t),
    }
}

/// A decoded mention: a run of whole words.
#[derive(Debug, Clone, PartialEq)]
pub struct WordSpan {
    /// Word range within the sentence.
    pub words: Range<usize>,
    /// Entity type (e.g. `PER`) or empty for predicates.
    pub label: String,
    /// Mean probability of the chosen tags.
    pub score: f32,
}

/// A relation between two mentions of a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceRelation {
    /// Index of the head mention.
    pub head: usize,
    /// Index of the tail mention.
    pub tail: usize,
    /// Relation label index in the model card.
    pub label: usize,
    /// Sigmoid score.
    pub score: f32,
    /// Word range of the phrase that expresses it; `None` when the learned scorer finds
    /// no word worth a phrase (the pair alone carries the relation: "BBC's Nick Robinson").
    pub phrase: Option<Range<usize>>,
}

/// What the decoder needs to know about the relation labels.
#[derive(Debug, Clone)]
pub struct RelationSpec {
    /// Threshold per label.
    pub thresholds: Vec<f32>,
    /// Allowed (head type, tail type) pairs per label; empty = any.
    pub signatures: Vec<Vec<(String, String)>>,
    /// Values per label in a projection row.
    pub rank: usize,
    /// The relation head's pair context, when the model has one.
    pub context: Option<RelationContext>,
}

fn softmax_argmax(logits: &[f32]) -> (usize, f32) {
    let (mut best, mut max) = (0, f32::NEG_INFINITY);
    for (i, &v) in logits.iter().enumerate() {
        if v > max {
            best = i;
            max = v;
        }
    }
    let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
    (best, 1.0 / sum)
}

/// Word-level BIO decoding (constrained Viterbi). `tags[0]` is `O`; others are `B-X` / `I-X`.
/// Mentions are then trimmed of punctuation at their edges ([`trim_punctuation`]).
pub fn decode_entities(words: &[Word], rows: &dyn TokenRows, tags: &[String]) -> Vec<WordSpan> {
    tag_spans(words, rows, TagHead::Entity, tags)
        .into_iter()
        .filter_map(|mut m| {
            m.words = trim_punctuation(words, m.words)?;
            Some(m)
        })
        .collect()
}

/// Drops punctuation words at the start of a mention, and at its end unless it is a
/// period glued to the word before ("U.S.", "Inc.") or a bracket that closes one opened
/// inside the mention ("Proleter (Z)"), so "-" in "pro-Trump" or a stray quote is never a
/// mention. `None` when nothing is left.
pub fn trim_punctuation(words: &[Word], mut span: Range<usize>) -> Option<Range<usize>> {
    while span.start < span.end && words[span.start].punct.is_some() {
        span.start += 1;
    }
    while span.start < span.end {
        let last = &words[span.end - 1];
        let inner = &words[span.start..span.end - 1];
        match last.punct {
            Some('.') if last.attached && !inner.is_empty() => break,
            Some(close) if opens_inside(close, inner) => break,
            Some(_) => span.end -= 1,
            None => break,
        }
    }
    (!span.is_empty()).then_some(span)
}

/// True when `close` is a closing bracket that `inner` leaves open ("( Z" before ")").
fn opens_inside(close: char, inner: &[Word]) -> bool {
    let open = match close {
        ')' => '(',
        ']' => '[',
        '}' => '{',
        _ => return false,
    };
    let depth = inner.iter().fold(0i32, |depth, w| match w.punct {
        Some(c) if c == open => depth + 1,
        Some(c) if c == close => depth - 1,
        _ => depth,
    });
    depth > 0
}

/// What a tag allows: `O` (or anything unparsable), `B-X` or `I-X`.
#[derive(Clone, Copy, PartialEq)]
enum TagKind<'a> {
    Outside,
    Begin(&'a str),
    Inside(&'a str),
}

fn tag_kind(tag: &str) -> TagKind<'_> {
    match (tag.get(..2), tag.get(2..)) {
        (Some("B-"), Some(ty)) if !ty.is_empty() => TagKind::Begin(ty),
        (Some("I-"), Some(ty)) if !ty.is_empty() => TagKind::Inside(ty),
        _ => TagKind::Outside,
    }
}

/// True when tag `next` may follow tag `prev` (`None`: sentence start) under BIO.
fn may_follow(prev: Option<TagKind<'_>>, next: TagKind<'_>) -> bool {
    match next {
        TagKind::Inside(ty) => {
            matches!(prev, Some(TagKind::Begin(p) | TagKind::Inside(p)) if p == ty)
        }
        _ => true,
    }
}

/// Log-softmax of one row, appended to `out`.
fn push_log_softmax(logits: &[f32], out: &mut Vec<f32>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
    out.extend(logits.iter().map(|&v| v - max - log_sum));
}

/// The most probable tag sequence over the words (read at each word's first piece) that
/// obeys BIO: an `I-X` only after `B-X` or `I-X`. Returns `(tag, probability)` per word.
///
/// Greedy per-word argmax followed by repair turns a confident `I-X` after `O` into a
/// one-word mention and splits "B-ORG I-MISC I-ORG" three ways; the constrained path
/// instead weighs the whole sentence, which is worth about 0.8 F1 on CoNLL-2003 dev.
fn best_tags(
    words: &[Word],
    rows: &dyn TokenRows,
    head: TagHead,
    kinds: &[TagKind<'_>],
) -> Vec<(usize, f32)> {
    let Some(first) = words.first() else {
        return Vec::new();
    };
    let n = kinds
        .len()
        .min(tag_row(rows, head, first.first_token).len());
    if n == 0 {
        return Vec::new();
    }
    // word-major tables: emissions[w * n + k], and the best predecessor of tag k at w
    let mut emissions = Vec::with_capacity(words.len() * n);
    for w in words {
        push_log_softmax(&tag_row(rows, head, w.first_token)[..n], &mut emissions);
    }
    // allowed[j * n + k]: tag k may follow tag j (checked once, not per word)
    let allowed: Vec<bool> = (0..n * n)
        .map(|i| may_follow(Some(kinds[i / n]), kinds[i % n]))
        .collect();
    let mut back = vec![0usize; words.len() * n];
    let mut score: Vec<f32> = (0..n)
        .map(|k| {
            if may_follow(None, kinds[k]) {
                emissions[k]
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let mut next = vec![f32::NEG_INFINITY; n];
    for w in 1..words.len() {
        for k in 0..n {
            let mut best = (f32::NEG_INFINITY, 0);
            for (j, &s) in score.iter().enumerate() {
                if s > best.0 && allowed[j * n + k] {
                    best = (s, j);
                }
            }
            next[k] = best.0 + emissions[w * n + k];
            back[w * n + k] = best.1;
        }
        std::mem::swap(&mut score, &mut next);
    }
    let mut k = (0..n)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    let mut path = vec![0; words.len()];
    for w in (0..words.len()).rev() {
        path[w] = k;
        k = back[w * n + k];
    }
    path.iter()
        .enumerate()
        .map(|(w, &k)| (k, emissions[w * n + k].exp()))
        .collect()
}

fn tag_spans(
    words: &[Word],
    rows: &dyn TokenRows,
    head: TagHead,
    tags: &[String],
) -> Vec<WordSpan> {
    let kinds: Vec<TagKind<'_>> = tags.iter().map(|t| tag_kind(t)).collect();
    let mut out: Vec<WordSpan> = Vec::new();
    let mut open: Option<(usize, &str, f32, usize)> = None; // start, type, prob sum, count
    let close =
        |open: &mut Option<(usize, &str, f32, usize)>, end: usize, out: &mut Vec<WordSpan>| {
            if let Some((start, ty, sum, count)) = open.take() {
                out.push(WordSpan {
                    words: start..end,
                    label: ty.to_string(),
                    score: sum / count as f32,
                });
            }
        };
    for (wi, (k, p)) in best_tags(words, rows, head, &kinds).into_iter().enumerate() {
        match kinds[k] {
            TagKind::Outside => close(&mut open, wi, &mut out),
            TagKind::Inside(ty) => match &mut open {
                Some((_, open_ty, sum, count)) if *open_ty == ty => {
                    *sum += p;
                    *count += 1;
                }
                // unreachable on a valid path; open a mention rather than drop the word
                _ => {
                    close(&mut open, wi, &mut out);
                    open = Some((wi, ty, p, 1));
                }
            },
            TagKind::Begin(ty) => {
                close(&mut open, wi, &mut out);
                open = Some((wi, ty, p, 1));
            }
        }
    }
    close(&mut open, words.len(), &mut out);
    out
}

/// Value mentions (dates, amounts, counts) from the value head, decoded like names but
/// never trimmed ("$" and "%" belong to "$5m" and "25%"), and with touching spans of one
/// type read as one value: the head often restarts a long value with a `B-` tag ("the
/// first quarter of" / "2005"), while two values of one type next to each other, with no
/// word between, hardly occur in running text. On news dev that took value F1 from
/// 0.6531 to 0.7404 with the same weights (an early checkpoint).
pub fn decode_values(words: &[Word], rows: &dyn TokenRows, tags: &[String]) -> Vec<WordSpan> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<WordSpan> = Vec::new();
    for span in tag_spans(words, rows, TagHead::Value, tags) {
        match out.last_mut() {
            Some(last) if last.label == span.label && last.words.end == span.words.start => {
                let (a, b) = (last.words.len() as f32, span.words.len() as f32);
                last.score = (last.score * a + span.score * b) / (a + b);
                last.words.end = span.words.end;
            }
            _ => out.push(span),
        }
    }
    out
}

/// Predicate spans: runs of words tagged B/I by the phrase head with probability at
/// least `threshold` (an I after O opens a span, as for entities).
pub fn decode_predicates(words: &[Word], rows: &dyn TokenRows, threshold: f32) -> Vec<WordSpan> {
    let mut out: Vec<WordSpan> = Vec::new();
    for (wi, w) in words.iter().enumerate() {
        let (k, p) = softmax_argmax(rows.phrase(w.first_token));
        if k == 0 || p < threshold {
            continue;
        }
        match out.last_mut() {
            Some(last) if k == 2 && last.words.end == wi => {
                let n = last.words.len() as f32;
                last.score = (last.score * n + p) / (n + 1.0);
                last.words.end = wi + 1;
            }
            _ => out.push(WordSpan {
                words: wi..wi + 1,
                label: String::new(),
                score: p,
            }),
        }
    }
    out
}

/// Mean of rows `f(t)` over the pieces of `words`.
fn mention_vector<'a>(
    words: &[Word],
    span: &Range<usize>,
    row: impl Fn(usize) -> &'a [f32],
) -> Vec<f32> {
    let first = words[span.start].first_token;
    let last = words[span.end - 1].last_token;
    let mut acc = row(first).to_vec();
    for t in first + 1..=last {
        for (a, v) in acc.iter_mut().zip(row(t)) {
            *a += v;
        }
    }
    let n = (last - first + 1) as f32;
    acc.iter_mut().for_each(|a| *a /= n);
    acc
}

/// How far apart, counted in mentions, two mentions of one sentence may be and still be
/// scored as a pair. Ordinary sentences hold fewer mentions, so it changes nothing there;
/// it keeps a run-on "sentence" (a squad list, a table, a text with no full stops) linear
/// instead of quadratic in its mentions, where an unbounded pass over a 26 KB line took
/// over a minute and 9 GB.
pub const MAX_MENTIONS_APART: usize = 12;

/// The relation head and tail vectors of a sentence's mentions, shared by both relation
/// decoders, and what each pair's context adds.
struct PairVectors<'a> {
    heads: Vec<Vec<f32>>,
    tails: Vec<Vec<f32>>,
    rank: usize,
    context: Option<PairContext<'a>>,
}

/// The inputs of [`RelationContext`]'s terms for one sentence.
struct PairContext<'a> {
    spec: &'a RelationContext,
    /// `rel_context` row of each word, read at its first piece.
    rows: Vec<&'a [f32]>,
    mentions: &'a [WordSpan],
}

impl PairContext<'_> {
    /// What the context adds to each label's logit for the pair (head, tail).
    fn terms(&self, h: usize, t: usize, labels: usize) -> Vec<f32> {
        let (head, tail) = (&self.mentions[h].words, &self.mentions[t].words);
        let head_first = head.start < tail.start;
        let (lo, hi) = if head_first {
            (head.end, tail.start)
        } else {
            (tail.end, head.start)
        };
        let hi = hi.max(lo);
        let others = (0..self.mentions.len())
            .filter(|&k| k != h && k != t && (lo..hi).contains(&self.mentions[k].words.start))
            .count();
        let between_rows = &self.spec.mentions_between_bias;
        let gap = &self.spec.gap_bias[self.spec.gap_bucket(head_first, hi - lo)];
        let between = &between_rows[others.min(between_rows.len() - 1)];
        // one pass over the words between: the highest "for" and "against" score per label
        let mut pooled = vec![f32::NEG_INFINITY; 2 * labels];
        for row in &self.rows[lo..hi] {
            for (m, &v) in pooled.iter_mut().zip(row.iter()) {
                *m = m.max(v);
            }
        }
        // nothing between the mentions pools to nothing; the terms reuse the first half
        let at = |v: f32| if v.is_finite() { v } else { 0.0 };
        for r in 0..labels {
            pooled[r] = gap[r] + between[r] + at(pooled[r]) - at(pooled[labels + r]);
        }
        pooled.truncate(labels);
        pooled
    }
}

impl<'a> PairVectors<'a> {
    fn new(
        words: &[Word],
        rows: &'a dyn TokenRows,
        mentions: &'a [WordSpan],
        rank: usize,
        context: Option<&'a RelationContext>,
    ) -> Self {
        PairVectors {
            heads: mentions
                .iter()
                .map(|m| mention_vector(words, &m.words, |t| rows.rel_head(t)))
                .collect(),
            tails: mentions
                .iter()
                .map(|m| mention_vector(words, &m.words, |t| rows.rel_tail(t)))
                .collect(),
            rank,
            context: context.map(|spec| PairContext {
                spec,
                rows: words
                    .iter()
                    .map(|w| rows.rel_context(w.first_token))
                    .collect(),
                mentions,
            }),
        }
    }

    /// Ordered pairs (head, tail) of distinct mentions at most [`MAX_MENTIONS_APART`]
    /// apart, head-major.
    fn near_pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n = self.heads.len();
        (0..n).flat_map(move |h| {
            (h.saturating_sub(MAX_MENTIONS_APART)..(h + MAX_MENTIONS_APART + 1).min(n))
                .filter(move |&t| t != h)
                .map(move |t| (h, t))
        })
    }

    /// Logit of each of `labels` labels for the pair, `None` for a label the rows do not
    /// hold.
    fn logits(&self, h: usize, t: usize, labels: usize) -> Vec<Option<f32>> {
        let context = self.context.as_ref().map(|c| c.terms(h, t, labels));
        (0..labels)
            .map(|r| {
                let range = r * self.rank..(r + 1) * self.rank;
                let (a, b) = (self.heads[h].get(range.clone())?, self.tails[t].get(range)?);
                let bilinear: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                Some(bilinear + context.as_ref().map_or(0.0, |c| c[r]))
            })
            .collect()
    }
}

fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}

/// Scores the ordered pairs of `mentions` at most [`MAX_MENTIONS_APART`] apart and keeps
/// labels above threshold whose type signature allows the pair; each kept relation gets a
/// phrase from `predicates`.
pub fn decode_relations(
    words: &[Word],
    rows: &dyn TokenRows,
    mentions: &[WordSpan],
    predicates: &[WordSpan],
    spec: &RelationSpec,
) -> Vec<SentenceRelation> {
    if mentions.len() < 2 || spec.thresholds.is_empty() {
        return Vec::new();
    }
    let pairs = PairVectors::new(words, rows, mentions, spec.rank, spec.context.as_ref());
    let mut out = Vec::new();
    for (h, t) in pairs.near_pairs() {
        // one phrase per pair, whatever the label: chosen on first need
        let mut phrase: Option<Range<usize>> = None;
        let logits = pairs.logits(h, t, spec.thresholds.len());
        for (r, threshold) in spec.thresholds.iter().enumerate() {
            let Some(logit) = logits[r] else {
                continue;
            };
            let score = sigmoid(logit);
            if score < *threshold
                || !signature_allows(&spec.signatures[r], &mentions[h].label, &mentions[t].label)
            {
                continue;
            }
            let phrase = phrase
                .get_or_insert_with(|| {
                    choose_phrase(&mentions[h].words, &mentions[t].words, predicates, words)
                })
                .clone();
            out.push(SentenceRelation {
                head: h,
                tail: t,
                label: r,
                score,
                phrase: Some(phrase),
            });
        }
    }
    out
}

/// Scores the ordered pairs of `mentions` at most [`MAX_MENTIONS_APART`] apart and keeps,
/// per pair, the one best label whose type signature allows the pair, when its score
/// reaches that label's threshold; its phrase is chosen for that pair by the learned
/// scorer ([`choose_learned_phrase`]).
pub fn decode_relations_per_pair(
    words: &[Word],
    rows: &dyn TokenRows,
    mentions: &[WordSpan],
    spec: &RelationSpec,
    scorer: Option<&PhraseScorer>,
) -> Vec<SentenceRelation> {
    if mentions.len() < 2 || spec.thresholds.is_empty() {
        return Vec::new();
    }
    let pairs = PairVectors::new(words, rows, mentions, spec.rank, spec.context.as_ref());
    let mut out = Vec::new();
    for (h, t) in pairs.near_pairs() {
        let mut best: Option<(usize, f32)> = None;
        let logits = pairs.logits(h, t, spec.thresholds.len());
        for (r, logit) in logits.into_iter().enumerate() {
            if !signature_allows(&spec.signatures[r], &mentions[h].label, &mentions[t].label) {
                continue;
            }
            let Some(logit) = logit else {
                continue;
            };
            if best.is_none_or(|(_, l)| logit > l) {
                best = Some((r, logit));
            }
        }
        let Some((label, logit)) = best else { continue };
        let score = sigmoid(logit);
        if score < spec.thresholds[label] {
            continue;
        }
        let phrase = scorer.and_then(|s| {
            choose_learned_phrase(words, rows, &mentions[h].words, &mentions[t].words, s)
        });
        out.push(SentenceRelation {
            head: h,
            tail: t,
            label,
            score,
            phrase,
        });
    }
    out
}

/// Region of word `i` for the pair (head, tail), indexing [`PhraseScorer::region_bias`]:
/// 0 before both mentions, 1 between them, 2 after both, 3 inside the head, 4 inside the
/// tail.
pub fn phrase_region(i: usize, head: &Range<usize>, tail: &Range<usize>) -> usize {
    if head.contains(&i) {
        3
    } else if tail.contains(&i) {
        4
    } else if i < head.start.min(tail.start) {
        0
    } else if i >= head.end.max(tail.end) {
        2
    } else {
        1
    }
}

/// The phrase the model picks for the pair (head, tail): each word's score (see
/// [`PhraseScorer`]) is computed for this pair, and the phrase is the run of words with
/// the highest total, if that total is positive. The model chooses the span; the only
/// rule is that punctuation at its edges is dropped.
pub fn choose_learned_phrase(
    words: &[Word],
    rows: &dyn TokenRows,
    head: &Range<usize>,
    tail: &Range<usize>,
    scorer: &PhraseScorer,
) -> Option<Range<usize>> {
    let rank = scorer.rank;
    let hv = mention_vector(words, head, |t| rows.phrase_head(t));
    let tv = mention_vector(words, tail, |t| rows.phrase_tail(t));
    if hv.len() != rank || tv.len() != rank {
        return None;
    }
    let query: Vec<f32> = hv.iter().zip(&tv).map(|(a, b)| a + b).collect();
    let scores = words.iter().enumerate().map(|(i, w)| {
        let row = rows.phrase_token(w.first_token);
        let dot: f32 = row.iter().zip(&query).map(|(x, q)| x * q).sum();
        dot + row.get(rank).copied().unwrap_or(0.0)
            + scorer.region_bias[phrase_region(i, head, tail)]
    });
    let span = best_run(scores)?;
    trim_punctuation_edges(words, span)
}

/// The contiguous run with the largest positive sum (Kadane), earliest on ties.
pub fn best_run(scores: impl IntoIterator<Item = f32>) -> Option<Range<usize>> {
    let mut best: Option<(f32, Range<usize>)> = None;
    let (mut sum, mut start) = (0.0f32, 0usize);
    for (i, s) in scores.into_iter().enumerate() {
        if sum <= 0.0 {
            sum = 0.0;
            start = i;
        }
        sum += s;
        if sum > 0.0 && best.as_ref().is_none_or(|(b, _)| sum > *b) {
            best = Some((sum, start..i + 1));
        }
    }
    best.map(|(_, r)| r)
}

/// Drops punctuation at both edges of a phrase, except an apostrophe that opens a
/// possessive or contraction glued to it ("'s rap collective").
fn trim_punctuation_edges(words: &[Word], mut span: Range<usize>) -> Option<Range<usize>> {
    let glued_apostrophe = |i: usize| {
        matches!(words[i].punct, Some('\'' | '\u{2019}'))
            && words
                .get(i + 1)
                .is_some_and(|next| next.attached && next.punct.is_none())
    };
    while span.start < span.end
        && words[span.start].punct.is_some()
        && !glued_apostrophe(span.start)
    {
        span.start += 1;
    }
    while span.end > span.start && words[span.end - 1].punct.is_some() {
        span.end -= 1;
    }
    (!span.is_empty()).then_some(span)
}

/// Whether a label with these (head type, tail type) signatures allows the pair; an
/// empty list allows any.
pub(crate) fn signature_allows(sigs: &[(String, String)], head: &str, tail: &str) -> bool {
    sigs.is_empty() || sigs.iter().any(|(h, t)| h == head && t == tail)
}

/// Most words a phrase may take from the gap between its predicate and a mention.
const PHRASE_EXTENSION: usize = 3;
/// Widest gap between two mentions that may itself serve as the phrase.
const GAP_PHRASE: usize = 4;
/// Longest evidence span (both mentions and what lies between) used as the phrase.
const EVIDENCE_PHRASE: usize = 8;

/// Picks the words that express a relation between mentions `a` and `b`:
/// 1. a predicted predicate lying between the two mentions (the most probable one),
///    extended over the rest of the gap towards the later mention when that is at most
///    three words, so "denied" becomes "denied a visa to";
/// 2. else the gap itself, trimmed of punctuation and function words at its edges, when
///    one to four words are left: titles and roles sit there ("after President" →
///    "President", "foreign ministry envoy");
/// 3. else a predicted predicate at most three words outside the pair;
/// 4. else an untrimmed gap of one to four words that is not only punctuation ("of");
/// 5. else the evidence span from the earlier to the later mention, when it is at most
///    eight words;
/// 6. otherwise the predicted predicate closest to either mention (the evidence span
///    when the sentence has none).
pub fn choose_phrase(
    a: &Range<usize>,
    b: &Range<usize>,
    predicates: &[WordSpan],
    words: &[Word],
) -> Range<usize> {
    let n_words = words.len();
    let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
    let gap = first.end.min(second.start)..second.start.max(first.end);
    // Predicates come in word order, so the ones near the pair are found by binary search:
    // a long sentence costs log(predicates) per pair, not a scan.
    let from = |word: usize| predicates.partition_point(|p| p.words.end <= word);
    // predicates that end at or after word lo and start before word hi
    let local = |lo: usize, hi: usize| {
        let start = predicates.partition_point(|p| p.words.end < lo);
        let end = predicates.partition_point(|p| p.words.start < hi);
        &predicates[start..end.max(start)]
    };
    let near_pair = local(
        first.start.saturating_sub(PHRASE_EXTENSION),
        second.end + PHRASE_EXTENSION + 1,
    );
    let between = near_pair
        .iter()
        .filter(|p| p.words.start >= gap.start && p.words.end <= gap.end)
        .max_by(|x, y| x.score.total_cmp(&y.score));
    if let Some(p) = between {
        return extend_to(&p.words, gap.end, words);
    }
    let core = trim_to_content(words, gap.clone());
    if !core.is_empty() && core.len() <= GAP_PHRASE {
        return core;
    }
    let near = near_pair
        .iter()
        .filter(|p| {
            let before =
                p.words.end <= first.start && first.start - p.words.end <= PHRASE_EXTENSION;
            let after =
                p.words.start >= second.end && p.words.start - second.end <= PHRASE_EXTENSION;
            before || after
        })
        .max_by(|x, y| x.score.total_cmp(&y.score));
    if let Some(p) = near {
        return p.words.clone();
    }
    let wordy = gap
        .clone()
        .any(|i| words.get(i).is_some_and(|w| w.punct.is_none()));
    if wordy && gap.len() <= GAP_PHRASE {
        return gap;
    }
    let evidence = first.start..second.end.min(n_words);
    if evidence.len() <= EVIDENCE_PHRASE {
        return evidence;
    }
    // a whole clause is no phrase: take the predicate closest to either mention
    let distance = |p: &WordSpan| {
        let to = |m: &Range<usize>| {
            if p.words.end <= m.start {
                m.start - p.words.end
            } else {
                p.words.start.saturating_sub(m.end)
            }
        };
        to(first).min(to(second))
    };
    // The closest predicates sit next to where either mention would be inserted.
    let around =
        |m: &Range<usize>| from(m.start).saturating_sub(2)..(from(m.end) + 2).min(predicates.len());
    around(first)
        .chain(around(second))
        .map(|i| &predicates[i])
        .min_by(|x, y| {
            distance(x)
                .cmp(&distance(y))
                .then(y.score.total_cmp(&x.score))
        })
        .map_or(evidence, |p| p.words.clone())
}

/// A predicate extended over the rest of a gap up to word `end` when that is at most
/// [`PHRASE_EXTENSION`] words, less any article it would end on ("visited the" →
/// "visited", "denied a visa to" stays).
fn extend_to(predicate: &Range<usize>, end: usize, words: &[Word]) -> Range<usize> {
    let mut phrase = predicate.clone();
    if end >= phrase.end && end - phrase.end <= PHRASE_EXTENSION {
        phrase.end = end;
        while phrase.end > predicate.end
            && words
                .get(phrase.end - 1)
                .is_some_and(|w| w.class == WordClass::Article)
        {
            phrase.end -= 1;
        }
    }
    phrase
}

/// Most words between a predicate and a mention it takes as subject or object.
const OPEN_ARGUMENT_GAP: usize = 4;

/// A subject–predicate–object link read from a predicted predicate (label-free).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenRelation {
    /// Index of the subject mention.
    pub head: usize,
    /// Index of the object mention.
    pub tail: usize,
    /// Mean probability of the predicate's tags.
    pub score: f32,
    /// Word range of the phrase.
    pub phrase: Range<usize>,
}

/// Label-free links read off the predicates: for each predicate that overlaps no
/// mention, the closest mention before it is the subject and the closest mention after it
/// the object, when each lies at most four words away with no other predicate,
/// punctuation (bar an apostrophe or hyphen) or "and"/"but"/"or" in between. "North Korean agents
/// assassinated Kim Jong-nam" gives North Korean —\[assassinated\]→ Kim Jong-nam; "Choe,
/// director general …, has met US officials" gives nothing, as the subject is too far.
/// The phrase is the predicate, extended towards the object as in [`choose_phrase`].
pub fn decode_open_relations(
    words: &[Word],
    mentions: &[WordSpan],
    predicates: &[WordSpan],
) -> Vec<OpenRelation> {
    let clear = |gap: Range<usize>| {
        gap.len() <= OPEN_ARGUMENT_GAP
            && words[gap.clone()].iter().all(|w| {
                w.class != WordClass::Conjunction
                    && !matches!(w.punct, Some(c) if !matches!(c, '\'' | '’' | '-'))
            })
            && !predicates.iter().any(|p| overlaps(&p.words, &gap))
    };
    let mut out = Vec::new();
    let inside_a_mention = |p: &WordSpan| mentions.iter().any(|m| overlaps(&m.words, &p.words));
    for p in predicates.iter().filter(|p| !inside_a_mention(p)) {
        let subject = mentions
            .iter()
            .enumerate()
            .filter(|(_, m)| m.words.end <= p.words.start)
            .max_by_key(|(_, m)| m.words.end)
            .filter(|(_, m)| clear(m.words.end..p.words.start));
        let object = mentions
            .iter()
            .enumerate()
            .filter(|(_, m)| m.words.start >= p.words.end)
            .min_by_key(|(_, m)| m.words.start)
            .filter(|(_, m)| clear(p.words.end..m.words.start));
        if let (Some((head, _)), Some((tail, m))) = (subject, object) {
            out.push(OpenRelation {
                head,
                tail,
                score: p.score,
                phrase: extend_to(&p.words, m.words.start, words),
            });
        }
    }
    out
}

/// True when the two word ranges share a word.
fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// `span` without punctuation or function words at either edge (possibly empty).
fn trim_to_content(words: &[Word], mut span: Range<usize>) -> Range<usize> {
    let filler = |w: Option<&Word>| w.is_some_and(|w| w.punct.is_some() || w.class.is_function());
    while span.start < span.end && filler(words.get(span.start)) {
        span.start += 1;
    }
    while span.start < span.end && filler(words.get(span.end - 1)) {
        span.end -= 1;
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows built by hand: one-hot logits per piece.
    struct Fixed {
        entity: Vec<Vec<f32>>,
        phrase: Vec<Vec<f32>>,
        head: Vec<Vec<f32>>,
        tail: Vec<Vec<f32>>,
    }

    impl TokenRows for Fixed {
        fn entity(&self, t: usize) -> &[f32] {
            &self.entity[t]
        }
        fn phrase(&self, t: usize) -> &[f32] {
            &self.phrase[t]
        }
        fn rel_head(&self, t: usize) -> &[f32] {
            &self.head[t]
        }
        fn rel_tail(&self, t: usize) -> &[f32] {
            &self.tail[t]
        }
    }

    fn tags() -> Vec<String> {
        ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn one_hot(k: usize, n: usize) -> Vec<f32> {
        (0..n).map(|i| if i == k { 8.0 } else { 0.0 }).collect()
    }

    /// One piece per word unless `pieces` says otherwise.
    fn words(pieces: &[usize]) -> Vec<Word> {
        let mut t = 0;
        pieces
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let w = Word {
                    bytes: i * 10..i * 10 + 5,
                    first_token: t,
                    last_token: t + n - 1,
                    punct: None,
                    attached: false,
                    class: WordClass::Content,
                };
                t += n;
                w
            })
            .collect()
    }

    fn rows(entity_tags: &[usize], phrase_tags: &[usize]) -> Fixed {
        let n = entity_tags.len();
        Fixed {
            entity: entity_tags.iter().map(|&k| one_hot(k, 5)).collect(),
            phrase: phrase_tags.iter().map(|&k| one_hot(k, 3)).collect(),
            head: vec![vec![0.0; 2]; n],
            tail: vec![vec![0.0; 2]; n],
        }
    }

    /// Rows whose entity logits are given per piece (`[O, B-PER, I-PER, B-ORG, I-ORG]`).
    fn entity_rows(entity: &[[f32; 5]]) -> Fixed {
        let n = entity.len();
        Fixed {
            entity: entity.iter().map(|r| r.to_vec()).collect(),
            phrase: vec![one_hot(0, 3); n],
            head: vec![vec![0.0; 2]; n],
            tail: vec![vec![0.0; 2]; n],
        }
    }

    fn spans(got: &[WordSpan]) -> Vec<(Range<usize>, &str)> {
        got.iter()
            .map(|s| (s.words.clone(), s.label.as_str()))
            .collect()
    }

    #[test]
    fn clean_bio_is_read_as_is() {
        // O B-PER I-PER O B-ORG I-ORG
        let w = words(&[1; 6]);
        let r = rows(&[0, 1, 2, 0, 3, 4], &[0; 6]);
        let got = decode_entities(&w, &r, &tags());
        assert_eq!(spans(&got), vec![(1..3, "PER"), (4..6, "ORG")]);
        assert!(got.iter().all(|s| s.score > 0.99));
    }

    #[test]
    fn a_stray_inside_tag_never_starts_a_mention() {
        // word 1 says I-PER (B-PER second): the sequence must start the mention with B-PER
        let w = words(&[1; 3]);
        let r = entity_rows(&[
            [8.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 5.0, 6.0, 0.0, 0.0],
            [0.0, 0.0, 8.0, 0.0, 0.0],
        ]);
        let got = decode_entities(&w, &r, &tags());
        assert_eq!(spans(&got), vec![(1..3, "PER")]);
        // the reported score is the probability of the tags on the path (B-PER ≈ 0.27)
        assert!(got[0].score < 0.7, "{}", got[0].score);
    }

    #[test]
    fn a_type_flip_inside_a_mention_does_not_split_it() {
        // B-ORG, then I-PER narrowly over I-ORG, then I-ORG: greedy reading gives three
        // mentions (ORG, PER, ORG); the best valid sequence is one ORG
        let w = words(&[1; 3]);
        let r = entity_rows(&[
            [0.0, 0.0, 0.0, 8.0, 0.0],
            [0.0, 0.0, 5.0, 0.0, 4.5],
            [0.0, 0.0, 0.0, 0.0, 8.0],
        ]);
        let got = decode_entities(&w, &r, &tags());
        assert_eq!(spans(&got), vec![(0..3, "ORG")]);
    }

    #[test]
    fn an_unlikely_inside_after_outside_is_dropped() {
        // O then a weak I-ORG that O nearly matches: no one-word mention is invented
        let w = words(&[1; 3]);
        let r = entity_rows(&[
            [8.0, 0.0, 0.0, 0.0, 0.0],
            [3.0, 0.0, 0.0, 0.0, 3.5],
            [8.0, 0.0, 0.0, 0.0, 0.0],
        ]);
        assert!(decode_entities(&w, &r, &tags()).is_empty());
    }

    #[test]
    fn adjacent_b_tags_are_two_entities() {
        let w = words(&[1; 3]);
        let r = rows(&[1, 1, 2], &[0; 3]);
        let got = decode_entities(&w, &r, &tags());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].words, 1..3);
    }

    #[test]
    fn word_pieces_never_split_an_entity() {
        // word 0 has 3 pieces: the tag is read at its first piece only
        let w = words(&[3, 1]);
        let r = rows(&[1, 0, 3, 0], &[0; 4]);
        let got = decode_entities(&w, &r, &tags());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].words, 0..1);
        assert_eq!(got[0].label, "PER");
    }

    #[test]
    fn punctuation_is_trimmed_from_mention_edges() {
        // words: pro - Trump PAC . (the "-" and "." are glued to their neighbours)
        let mut w = words(&[1; 5]);
        for (i, p) in [(1, '-'), (4, '.')] {
            w[i].punct = Some(p);
            w[i].attached = true;
        }
        assert_eq!(trim_punctuation(&w, 1..4), Some(2..4));
        assert_eq!(trim_punctuation(&w, 1..2), None);
        assert_eq!(
            trim_punctuation(&w, 2..5),
            Some(2..5),
            "a glued period stays (U.S., Inc.)"
        );
        w[4].attached = false;
        assert_eq!(trim_punctuation(&w, 2..5), Some(2..4));
    }

    #[test]
    fn a_closing_bracket_stays_only_when_the_mention_opened_it() {
        // words: Proleter ( Z ) )
        let mut w = words(&[1; 5]);
        for (i, p) in [(1, '('), (3, ')'), (4, ')')] {
            w[i].punct = Some(p);
        }
        assert_eq!(trim_punctuation(&w, 0..4), Some(0..4), "Proleter ( Z )");
        assert_eq!(
            trim_punctuation(&w, 0..5),
            Some(0..4),
            "the second ) is stray"
        );
        assert_eq!(trim_punctuation(&w, 2..4), Some(2..3), "Z ) opens nothing");
        assert_eq!(trim_punctuation(&w, 1..4), Some(2..3), "a leading ( goes");
    }

    #[test]
    fn predicates_merge_b_and_i() {
        let w = words(&[1; 5]);
        let r = rows(&[0; 5], &[0, 1, 2, 0, 2]);
        let got = decode_predicates(&w, &r, 0.5);
        let spans: Vec<Range<usize>> = got.iter().map(|s| s.words.clone()).collect();
        assert_eq!(spans, vec![1..3, 4..5]);
    }

    fn pred(words: Range<usize>, score: f32) -> WordSpan {
        WordSpan {
            words,
            label: String::new(),
            score,
        }
    }

    #[test]
    fn phrase_between_mentions_is_extended_to_the_tail() {
        // [State Department] denied a visa to [Choe]  (words 0-1, 2, 3, 4, 5, 6)
        let p = choose_phrase(&(0..2), &(6..7), &[pred(2..3, 0.9)], &words(&[1; 7]));
        assert_eq!(p, 2..6);
    }

    #[test]
    fn phrase_prefers_the_most_probable_predicate_between() {
        let preds = [pred(2..3, 0.6), pred(5..6, 0.9)];
        let p = choose_phrase(&(0..1), &(9..10), &preds, &words(&[1; 10]));
        assert_eq!(p, 5..9);
    }

    /// Words with the given ones marked as function words or as punctuation.
    fn marked(n: usize, function: &[usize], punct: &[usize]) -> Vec<Word> {
        let mut w = words(&vec![1; n]);
        for &i in function {
            w[i].class = WordClass::Function;
        }
        for &i in punct {
            w[i].punct = Some(',');
        }
        w
    }

    /// The phrase choice before predicates were found by binary search: every step scans
    /// all predicates. Kept as the reference the faster search must agree with.
    fn choose_phrase_by_scan(
        a: &Range<usize>,
        b: &Range<usize>,
        predicates: &[WordSpan],
        words: &[Word],
    ) -> Range<usize> {
        let n_words = words.len();
        let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
        let gap = first.end.min(second.start)..second.start.max(first.end);
        let between = predicates
            .iter()
            .filter(|p| p.words.start >= gap.start && p.words.end <= gap.end)
            .max_by(|x, y| x.score.total_cmp(&y.score));
        if let Some(p) = between {
            return extend_to(&p.words, gap.end, words);
        }
        let core = trim_to_content(words, gap.clone());
        if !core.is_empty() && core.len() <= GAP_PHRASE {
            return core;
        }
        let near = predicates
            .iter()
            .filter(|p| {
                let before =
                    p.words.end <= first.start && first.start - p.words.end <= PHRASE_EXTENSION;
                let after =
                    p.words.start >= second.end && p.words.start - second.end <= PHRASE_EXTENSION;
                before || after
            })
            .max_by(|x, y| x.score.total_cmp(&y.score));
        if let Some(p) = near {
            return p.words.clone();
        }
        let wordy = gap
            .clone()
            .any(|i| words.get(i).is_some_and(|w| w.punct.is_none()));
        if wordy && gap.len() <= GAP_PHRASE {
            return gap;
        }
        let evidence = first.start..second.end.min(n_words);
        if evidence.len() <= EVIDENCE_PHRASE {
            return evidence;
        }
        // a whole clause is no phrase: take the predicate closest to either mention
        let distance = |p: &WordSpan| {
            let to = |m: &Range<usize>| {
                if p.words.end <= m.start {
                    m.start - p.words.end
                } else {
                    p.words.start.saturating_sub(m.end)
                }
            };
            to(first).min(to(second))
        };
        predicates
            .iter()
            .min_by(|x, y| {
                distance(x)
                    .cmp(&distance(y))
                    .then(y.score.total_cmp(&x.score))
            })
            .map_or(evidence, |p| p.words.clone())
    }

    proptest::proptest! {
        #[test]
        fn binary_search_picks_the_same_phrase_as_a_full_scan(
            n in 2usize..40,
            marks in proptest::collection::vec(0u8..6, 40),
            cuts in proptest::collection::vec((1usize..4, 0usize..3, 0u8..100), 0..15),
            a in (0usize..40, 1usize..4),
            b in (0usize..40, 1usize..4),
        ) {
            let mut w = words(&vec![1; n]);
            for (i, m) in marks.iter().take(n).enumerate() {
                match m {
                    0 => w[i].class = WordClass::Function,
                    1 => w[i].punct = Some(','),
                    _ => {}
                }
            }
            // non-overlapping predicates in word order: (gap before, length, score)
            let mut predicates = Vec::new();
            let mut at = 0;
            for (gap, len, score) in cuts {
                let start = at + gap;
                if start + len > n {
                    break;
                }
                predicates.push(pred(start..start + len, f32::from(score) / 100.0));
                at = start + len;
            }
            let span = |(s, l): (usize, usize)| (s % n)..((s % n) + l).min(n);
            let (a, b) = (span(a), span(b));
            if a.end > b.start && b.end > a.start {
                return Ok(()); // overlapping mentions never form a pair
            }
            proptest::prop_assert_eq!(
                choose_phrase(&a, &b, &predicates, &w),
                choose_phrase_by_scan(&a, &b, &predicates, &w)
            );
        }
    }

    #[test]
    fn phrase_falls_back_to_a_short_gap_then_to_the_evidence() {
        let w = words(&[1; 9]);
        assert_eq!(choose_phrase(&(0..2), &(4..5), &[], &w[..6]), 2..4);
        assert_eq!(choose_phrase(&(4..5), &(0..2), &[], &w[..6]), 2..4);
        assert_eq!(choose_phrase(&(0..1), &(1..2), &[], &w[..6]), 0..2);
        assert_eq!(choose_phrase(&(0..1), &(7..8), &[], &w), 0..8);
        // [Lamamra] , [Sudan]: a comma alone is no phrase
        let w = marked(3, &[], &[1]);
        assert_eq!(choose_phrase(&(0..1), &(2..3), &[], &w), 0..3);
    }

    #[test]
    fn a_long_evidence_span_gives_way_to_the_closest_predicate() {
        // "said [X] , who ... , [Y] ... reported": 11 words from X to Y, predicates
        // only farther than three words outside the pair
        let w = words(&[1; 22]);
        let preds = [pred(0..1, 0.9), pred(21..22, 0.99)];
        assert_eq!(choose_phrase(&(5..6), &(15..16), &preds, &w), 0..1);
        // no predicate at all: the evidence is all there is
        assert_eq!(choose_phrase(&(5..6), &(15..16), &[], &w), 5..16);
    }

    #[test]
    fn a_gap_phrase_loses_function_words_and_punctuation_at_its_edges() {
        // [United States] after President [Donald Trump] took office
        let w = marked(7, &[2], &[]);
        let p = choose_phrase(&(0..2), &(4..6), &[pred(6..7, 0.9)], &w);
        assert_eq!(
            p,
            3..4,
            "the title between the mentions beats the verb outside"
        );
        // [Kim] , the [Choe]: nothing but filler between, so "," "the" stays as it is
        let w = marked(4, &[2], &[1]);
        assert_eq!(choose_phrase(&(0..1), &(3..4), &[], &w), 1..3);
    }

    #[test]
    fn an_extension_never_ends_on_an_article() {
        // [North Korean] visited the [United States]  (words 0-1, 2, 3, 4-5)
        let mut w = words(&[1; 6]);
        w[3].class = WordClass::Article;
        assert_eq!(
            choose_phrase(&(0..2), &(4..6), &[pred(2..3, 0.9)], &w),
            2..3
        );
        // denied a visa to: the article inside stays
        w[4].class = WordClass::Content;
        assert_eq!(
            choose_phrase(&(0..2), &(5..6), &[pred(2..3, 0.9)], &w),
            2..5
        );
    }

    fn mention(words: Range<usize>) -> WordSpan {
        WordSpan {
            words,
            label: "PER".into(),
            score: 0.9,
        }
    }

    #[test]
    fn open_relations_join_the_nearest_subject_and_object_of_a_predicate() {
        // [North Korean] agents assassinated [Kim Jong-nam] , the half brother of [Kim]
        //  0-1            2      3             4-5           6  7   8    9      10  11
        let mut w = words(&[1; 12]);
        w[6].punct = Some(',');
        w[7].class = WordClass::Article;
        w[10].class = WordClass::Function;
        let mentions = [mention(0..2), mention(4..6), mention(11..12)];
        let preds = [pred(3..4, 0.95)];
        let got = decode_open_relations(&w, &mentions, &preds);
        assert_eq!(
            got,
            [OpenRelation {
                head: 0,
                tail: 1,
                score: 0.95,
                phrase: 3..4
            }]
        );
        // a second predicate in the way, a comma, or a conjunction each block the link
        let blocked = |w: &[Word], preds: &[WordSpan]| decode_open_relations(w, &mentions, preds);
        assert!(blocked(&w, &[pred(3..4, 0.9), pred(2..3, 0.8)]).is_empty());
        let mut comma = w.clone();
        comma[2].punct = Some(',');
        assert!(blocked(&comma, &preds).is_empty());
        let mut and = w.clone();
        and[2].class = WordClass::Conjunction;
        assert!(blocked(&and, &preds).is_empty());
        // no object after the predicate, or none before it
        assert!(decode_open_relations(&w, &mentions[..1], &preds).is_empty());
        assert!(decode_open_relations(&w, &mentions[1..2], &preds).is_empty());
    }

    #[test]
    fn open_relations_reach_four_words_across_apostrophes_and_extend_to_the_object() {
        // [Trump] ' s new adviser said in a [Reuters] interview
        //  0      1 2 3   4       5    6  7  8
        let mut w = words(&[1; 10]);
        w[1].punct = Some('\'');
        w[2].class = WordClass::Function;
        w[6].class = WordClass::Function;
        w[7].class = WordClass::Article;
        let mentions = [mention(0..1), mention(8..9)];
        let got = decode_open_relations(&w, &mentions, &[pred(5..6, 0.9)]);
        assert_eq!(got.len(), 1, "four words, one an apostrophe, still link");
        assert_eq!(got[0].phrase, 5..7, "said in a → said in");
        // five words between subject and predicate do not
        let far = [mention(0..1), mention(7..8)];
        assert!(decode_open_relations(&words(&[1; 8]), &far, &[pred(6..7, 0.9)]).is_empty());
        // a predicate inside a mention links nothing ("[Pro-Trump] Party")
        let inside = [mention(0..2), mention(3..4)];
        assert!(decode_open_relations(&words(&[1; 4]), &inside, &[pred(1..2, 0.9)]).is_empty());
    }

    #[test]
    fn phrase_may_come_from_just_outside() {
        // [Oswald] , [Kennedy] 's assassin... predicate right after the pair
        let w = marked(6, &[], &[1]);
        let p = choose_phrase(&(0..1), &(2..3), &[pred(4..5, 0.8)], &w);
        assert_eq!(p, 4..5);
    }

    #[test]
    fn relations_score_pairs_and_respect_signatures() {
        let w = words(&[1; 4]);
        let mut r = rows(&[1, 0, 0, 3], &[0, 1, 0, 0]);
        // rank 2, two labels; label 0 is strong from mention 0 to mention 1, label 1 never
        r.head[0] = vec![4.0, 1.0, -4.0, 1.0];
        r.tail[3] = vec![4.0, 1.0, 4.0, 1.0];
        r.head[3] = vec![-4.0, 1.0, -4.0, 1.0];
        r.tail[0] = vec![4.0, 1.0, 4.0, 1.0];
        let mentions = vec![
            WordSpan {
                words: 0..1,
                label: "PER".into(),
                score: 1.0,
            },
            WordSpan {
                words: 3..4,
                label: "ORG".into(),
                score: 1.0,
            },
        ];
        let mut spec = RelationSpec {
            thresholds: vec![0.5, 0.5],
            signatures: vec![vec![], vec![]],
            rank: 2,
            context: None,
        };
        let preds = decode_predicates(&w, &r, 0.5);
        let got = decode_relations(&w, &r, &mentions, &preds, &spec);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].head, got[0].tail, got[0].label), (0, 1, 0));
        assert!(got[0].score > 0.99);
        assert_eq!(got[0].phrase, Some(1..3));
        spec.signatures[0] = vec![("ORG".into(), "PER".into())];
        assert!(decode_relations(&w, &r, &mentions, &preds, &spec).is_empty());
    }

    /// Rows for the v2 heads: value tags, relation projections and phrase-scorer rows
    /// given per piece.
    struct Learned {
        value: Vec<Vec<f32>>,
        head: Vec<Vec<f32>>,
        tail: Vec<Vec<f32>>,
        token: Vec<Vec<f32>>,
        phrase_head: Vec<Vec<f32>>,
        phrase_tail: Vec<Vec<f32>>,
        context: Vec<Vec<f32>>,
    }

    impl TokenRows for Learned {
        fn entity(&self, _t: usize) -> &[f32] {
            &[]
        }
        fn phrase(&self, _t: usize) -> &[f32] {
            &[]
        }
        fn rel_head(&self, t: usize) -> &[f32] {
            &self.head[t]
        }
        fn rel_tail(&self, t: usize) -> &[f32] {
            &self.tail[t]
        }
        fn value(&self, t: usize) -> &[f32] {
            &self.value[t]
        }
        fn phrase_token(&self, t: usize) -> &[f32] {
            &self.token[t]
        }
        fn phrase_head(&self, t: usize) -> &[f32] {
            &self.phrase_head[t]
        }
        fn phrase_tail(&self, t: usize) -> &[f32] {
            &self.phrase_tail[t]
        }
        fn rel_context(&self, t: usize) -> &[f32] {
            self.context.get(t).map_or(&[], Vec::as_slice)
        }
    }

    /// Six one-piece words: "Ann(0) was(1) hired(2) by(3) Acme(4) .(5)"; a word's phrase
    /// score for any pair is `token_score[w]` (rank 1, query 1 + 0).
    fn learned(token_score: [f32; 6]) -> (Vec<Word>, Learned) {
        let mut w = words(&[1; 6]);
        w[5].punct = Some('.');
        let n = 6;
        let rows = Learned {
            value: vec![one_hot(0, 3); n],
            // label 0 scores 2.0 for Ann→Acme only through rank-1 rows; label 1 scores 1.0
            head: (0..n)
                .map(|t| {
                    if t == 0 {
                        vec![2.0, 1.0]
                    } else {
                        vec![0.0, 0.0]
                    }
                })
                .collect(),
            tail: (0..n)
                .map(|t| {
                    if t == 4 {
                        vec![1.0, 1.0]
                    } else {
                        vec![0.0, 0.0]
                    }
                })
                .collect(),
            token: token_score.iter().map(|&s| vec![s, 0.0]).collect(),
            phrase_head: vec![vec![1.0]; n],
            phrase_tail: vec![vec![0.0]; n],
            context: Vec::new(),
        };
        (w, rows)
    }

    fn scorer() -> PhraseScorer {
        PhraseScorer {
            rank: 1,
            region_bias: [0.0; 5],
        }
    }

    #[test]
    fn best_run_takes_the_largest_positive_total() {
        assert_eq!(best_run([-1.0, 2.0, -0.5, 2.0, -3.0, 1.0]), Some(1..4));
        assert_eq!(best_run([-1.0, -2.0]), None);
        assert_eq!(best_run([]), None);
        // ties go to the earlier run
        assert_eq!(best_run([1.0, -5.0, 1.0]), Some(0..1));
    }

    #[test]
    fn regions_place_words_relative_to_the_pair() {
        let (h, t) = (1..2, 4..6);
        let got: Vec<usize> = (0..8).map(|i| phrase_region(i, &h, &t)).collect();
        assert_eq!(got, vec![0, 3, 1, 1, 4, 4, 2, 2]);
        // the order of the mentions in the text does not matter
        assert_eq!(phrase_region(2, &t, &h), 1);
    }

    #[test]
    fn the_learned_phrase_is_chosen_per_pair_and_trimmed_of_punctuation() {
        let (w, rows) = learned([-4.0, 1.0, 3.0, 0.5, -4.0, 2.0]);
        let got = choose_learned_phrase(&w, &rows, &(0..1), &(4..5), &scorer());
        assert_eq!(got, Some(1..4), "was hired by");
        // "'" glued to "s" stays: "'s"; a lone quote goes
        let mut quoted = w.clone();
        quoted[1].punct = Some('\'');
        quoted[2].attached = true;
        let got = choose_learned_phrase(&quoted, &rows, &(0..1), &(4..5), &scorer());
        assert_eq!(got, Some(1..4));
        quoted[2].attached = false;
        let got = choose_learned_phrase(&quoted, &rows, &(0..1), &(4..5), &scorer());
        assert_eq!(got, Some(2..4));
        // the region bias is part of the score: inside-mention words never join
        let mut s = scorer();
        s.region_bias = [0.0, -10.0, 0.0, 0.0, 0.0];
        let got = choose_learned_phrase(&w, &rows, &(0..1), &(4..5), &s);
        assert_eq!(
            got, None,
            "after the pair only '.' scores, and it is trimmed"
        );
        let (w, rows) = learned([-4.0, -1.0, -3.0, -0.5, -4.0, -2.0]);
        assert_eq!(
            choose_learned_phrase(&w, &rows, &(0..1), &(4..5), &scorer()),
            None
        );
    }

    #[test]
    fn one_relation_per_pair_is_the_best_allowed_label() {
        let (w, rows) = learned([-4.0, 1.0, 3.0, 0.5, -4.0, -2.0]);
        let mut mentions = [mention(0..1), mention(4..5)];
        mentions[1].label = "ORG".into();
        let spec = RelationSpec {
            thresholds: vec![0.6, 0.6],
            signatures: vec![vec![], vec![]],
            rank: 1,
            context: None,
        };
        let got = decode_relations_per_pair(&w, &rows, &mentions, &spec, Some(&scorer()));
        assert_eq!(got.len(), 1, "one relation for Ann→Acme, none for Acme→Ann");
        assert_eq!((got[0].head, got[0].tail, got[0].label), (0, 1, 0));
        assert_eq!(got[0].phrase, Some(1..4));
        assert!((got[0].score - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
        // a signature that forbids the best label leaves the next one
        let spec = RelationSpec {
            signatures: vec![vec![("ORG".into(), "ORG".into())], vec![]],
            ..spec
        };
        let got = decode_relations_per_pair(&w, &rows, &mentions, &spec, None);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].label, got[0].phrase.clone()), (1, None));
        // below threshold: nothing
        let spec = RelationSpec {
            thresholds: vec![0.99, 0.99],
            ..spec
        };
        assert!(decode_relations_per_pair(&w, &rows, &mentions, &spec, None).is_empty());
    }

    /// Gap buckets of [1, 2, 3, 5] (0, 1, 2, 3-4, 5+ words), two labels; bucket `b` adds
    /// `b` to label 0 when the head comes first and `-b` when the tail does, and each
    /// other mention in between adds -10 to label 1.
    fn context_spec() -> RelationContext {
        RelationContext {
            gap_edges: vec![1, 2, 3, 5],
            gap_bias: (0..10)
                .map(|i| {
                    let b = (i % 5) as f32;
                    vec![if i < 5 { b } else { -b }, 0.0]
                })
                .collect(),
            mentions_between_bias: vec![vec![0.0, 0.0], vec![0.0, -10.0]],
        }
    }

    #[test]
    fn pair_context_adds_gap_mentions_between_and_pooled_words() {
        let (w, mut rows) = learned([0.0; 6]);
        // words between Ann(0) and Acme(4): was(1) hired(2) by(3); "hired" lifts label 0
        // by 3, "by" holds it back by 1 (the second half of a row is subtracted)
        rows.context = vec![vec![0.0; 4]; 6];
        rows.context[2] = vec![3.0, 0.0, 0.0, 0.0];
        rows.context[3] = vec![-2.0, 0.5, 1.0, 0.0];
        let spec = context_spec();
        assert_eq!(spec.gap_bucket(true, 0), 0);
        assert_eq!(spec.gap_bucket(true, 4), 3);
        assert_eq!(spec.gap_bucket(false, 9), 9);
        let mentions = [mention(0..1), mention(4..5)];
        let pairs = PairVectors::new(&w, &rows, &mentions, 1, Some(&spec));
        // Ann→Acme: bilinear 2 and 1; gap 3 words (bucket 3): +3 on label 0;
        // label 0 words: max(0, 3, -2) - max(0, 0, 1) = 2; label 1: max(0, 0, 0.5) - 0
        assert_eq!(
            pairs.logits(0, 1, 2),
            vec![Some(2.0 + 3.0 + 2.0), Some(1.0 + 0.5)]
        );
        // Acme→Ann: bilinear 0; tail first: -3; the same words between
        assert_eq!(pairs.logits(1, 0, 2), vec![Some(-3.0 + 2.0), Some(0.5)]);
        // a mention between Ann and Acme: -10 on label 1, and "hired" is no longer between
        let mentions = [mention(0..1), mention(2..3), mention(4..5)];
        let pairs = PairVectors::new(&w, &rows, &mentions, 1, Some(&spec));
        assert_eq!(
            pairs.logits(0, 2, 2),
            vec![Some(2.0 + 3.0 + 2.0), Some(1.0 + 0.5 - 10.0)]
        );
        // "was" between Ann and "hired": bucket 1, no context row of note
        assert_eq!(pairs.logits(0, 1, 2), vec![Some(1.0), Some(0.0)]);
        // adjacent mentions: no word between, so only the gap bias of bucket 0 (0) counts
        let adjacent = [mention(0..1), mention(1..2)];
        let pairs = PairVectors::new(&w, &rows, &adjacent, 1, Some(&spec));
        assert_eq!(pairs.logits(0, 1, 2), vec![Some(0.0), Some(0.0)]);
        // without pair context the bilinear score alone
        let pairs = PairVectors::new(&w, &rows, &mentions, 1, None);
        assert_eq!(pairs.logits(0, 2, 2), vec![Some(2.0), Some(1.0)]);
    }

    #[test]
    fn values_are_decoded_untrimmed_from_their_own_head() {
        let mut w = words(&[1; 3]);
        w[2].punct = Some('%');
        let (_, mut rows) = learned([0.0; 6]);
        rows.value = vec![one_hot(0, 3), one_hot(1, 3), one_hot(2, 3)];
        let tags: Vec<String> = ["O", "B-PERCENT", "I-PERCENT"].map(String::from).to_vec();
        let got = decode_values(&w, &rows, &tags);
        assert_eq!(spans(&got), vec![(1..3, "PERCENT")]);
        // B B I of one type is one value; a value of another type stays apart
        let w = words(&[1; 4]);
        rows.value = vec![one_hot(1, 5), one_hot(1, 5), one_hot(2, 5), one_hot(3, 5)];
        let tags: Vec<String> = ["O", "B-DATE", "I-DATE", "B-CARDINAL", "I-CARDINAL"]
            .map(String::from)
            .to_vec();
        let got = decode_values(&w, &rows, &tags);
        assert_eq!(spans(&got), vec![(0..3, "DATE"), (3..4, "CARDINAL")]);
        assert!(decode_values(&w, &rows, &[]).is_empty());
    }
}

//! The erx news corpus (`data/news/*.jsonl`): loading and scoring.
//!
//! Corpus records hold offsets and strings only, never the article text (the BBC texts
//! may not be redistributed); [`read_news`] joins each record with its article from the
//! dump and refuses a dump whose text differs from the one annotated (sha256 per text).
//!
//! Scoring ([`NewsScorer`]) works on code-point spans over the whole article:
//! * entities: exact span and label, micro and per type, names and values apart;
//! * relations on ordered pairs: the head and tail mention spans match, label ignored;
//!   gold relations that repeat a pair of names (same texts, same label) count once, as
//!   erx prints one relation per entity pair and label in a document;
//! * pairs plus label: the same with the relation label (predictions in other schemas
//!   are mapped through [`news_label`], others count as wrong labels);
//! * phrase token F1: on pairs that match, the token overlap of the predicted and gold
//!   phrases, averaged over those pairs (two empty phrases agree).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::gold::{GoldError, Location};
use super::score::{summarise, Counts, Prf, Scorer, Scores, Span};
use crate::card::sha256_hex;
use crate::document::Document;

/// Name entity types (CoNLL-2003 scheme).
pub const NAME_LABELS: [&str; 4] = ["PER", "ORG", "LOC", "MISC"];
/// Value entity types (OntoNotes definitions).
pub const VALUE_LABELS: [&str; 7] = [
    "DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL",
];

/// One annotated mention: code-point offsets into the article text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsMention {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// The mention's text, equal to the article's text at `start..end`.
    pub text: String,
    /// Entity type: one of [`NAME_LABELS`] or [`VALUE_LABELS`].
    pub label: String,
    /// Index of the sentence that holds it.
    pub sentence: usize,
}

/// One annotated relation between two mentions of one sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsRelation {
    /// Index of the head mention in [`NewsArticle::entities`].
    pub head: usize,
    /// Index of the tail mention.
    pub tail: usize,
    /// Label of the erx news schema (`docs/annotation.md`).
    pub label: String,
    /// The phrase, empty when only juxtaposition carries the relation.
    pub phrase: String,
    /// Code-point start of the phrase (absent when it is empty).
    pub phrase_start: Option<usize>,
    /// Code-point end of the phrase.
    pub phrase_end: Option<usize>,
    /// Whether the sentence denies the relation.
    #[serde(default)]
    pub negated: bool,
    /// Index of the sentence.
    pub sentence: usize,
}

/// One annotated article, joined with its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsArticle {
    /// Article id in the dump.
    pub id: String,
    /// Hex sha256 of the article's UTF-8 text when it was annotated.
    pub sha256: String,
    /// Code-point ranges of the annotated sentences.
    pub sentences: Vec<(usize, usize)>,
    /// Every mention, in text order.
    pub entities: Vec<NewsMention>,
    /// Every relation.
    pub relations: Vec<NewsRelation>,
    /// The article text, joined from the dump by [`read_news`] (never stored in the corpus).
    #[serde(default, skip_serializing)]
    pub text: String,
}

/// Maps a predicted relation label onto the erx news schema: news labels pass through,
/// CoNLL04's five labels map one to one; anything else has no news label.
pub fn news_label<'a>(schema: &str, label: &'a str) -> Option<&'a str> {
    match schema {
        "news" => Some(label),
        "conll04" => match label {
            "Work_For" => Some("works_for"),
            "Live_In" => Some("lives_in"),
            "OrgBased_In" => Some("based_in"),
            "Located_In" => Some("located_in"),
            "Kill" => Some("killed"),
            _ => None,
        },
        _ => None,
    }
}

/// The CoNLL04 label a news label stands for (the inverse of [`news_label`] on the five
/// labels CoNLL04 has), so a model with the news schema stays scorable on CoNLL04.
pub fn conll04_label(news: &str) -> Option<&'static str> {
    match news {
        "works_for" => Some("Work_For"),
        "lives_in" => Some("Live_In"),
        "based_in" => Some("OrgBased_In"),
        "located_in" => Some("Located_In"),
        "killed" => Some("Kill"),
        _ => None,
    }
}

fn news_error(path: &Path, at: Location, message: impl Into<String>) -> GoldError {
    GoldError::Parse {
        path: Some(path.to_path_buf()),
        at,
        message: message.into(),
    }
}

fn read_text(path: &Path) -> Result<String, GoldError> {
    std::fs::read_to_string(path).map_err(|source| GoldError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads news-corpus records from `corpus` and joins each with its text from `dump`
/// (JSONL records `{"id", "text"}`), checking the text's sha256 and every mention's text.
///
/// # Errors
/// [`GoldError::Io`] when a file cannot be read; [`GoldError::Parse`] for a malformed
/// record, an article missing from the dump, a text whose hash differs from the annotated
/// one (a different dump), or offsets that do not fit the text.
pub fn read_news(corpus: &Path, dump: &Path) -> Result<Vec<NewsArticle>, GoldError> {
    let mut articles = Vec::new();
    for (n, line) in read_text(corpus)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let article: NewsArticle = serde_json::from_str(line)
            .map_err(|e| news_error(corpus, Location::Line(n + 1), e.to_string()))?;
        articles.push((n + 1, article));
    }
    let wanted: HashSet<&str> = articles.iter().map(|(_, a)| a.id.as_str()).collect();
    let mut texts: HashMap<String, String> = HashMap::new();
    for (n, line) in read_text(dump)?.lines().enumerate() {
        #[derive(Deserialize)]
        struct DumpRecord {
            id: String,
            text: String,
        }
        if line.trim().is_empty() {
            continue;
        }
        let rec: DumpRecord = serde_json::from_str(line)
            .map_err(|e| news_error(dump, Location::Line(n + 1), e.to_string()))?;
        if wanted.contains(rec.id.as_str()) {
            texts.insert(rec.id, rec.text);
        }
    }
    articles
        .into_iter()
        .map(|(line, mut article)| {
            let at = Location::Line(line);
            let text = texts.remove(&article.id).ok_or_else(|| {
                news_error(
                    corpus,
                    at,
                    format!(
                        "article {} is not in {}; pass the dump the corpus was annotated on",
                        article.id,
                        dump.display()
                    ),
                )
            })?;
            if sha256_hex(text.as_bytes()) != article.sha256 {
                return Err(news_error(
                    corpus,
                    at,
                    format!(
                        "article {}: its text in {} differs from the annotated one (sha256 \
                         mismatch); the offsets would be wrong with this dump",
                        article.id,
                        dump.display()
                    ),
                ));
            }
            let chars: Vec<char> = text.chars().collect();
            for m in &article.entities {
                let slice: Option<String> = chars.get(m.start..m.end).map(|s| s.iter().collect());
                if slice.as_deref() != Some(m.text.as_str()) {
                    return Err(news_error(
                        corpus,
                        at,
                        format!(
                            "article {}: mention {:?} is not at {}..{}",
                            article.id, m.text, m.start, m.end
                        ),
                    ));
                }
            }
            for r in &article.relations {
                if r.head >= article.entities.len() || r.tail >= article.entities.len() {
                    return Err(news_error(
                        corpus,
                        at,
                        format!("article {}: relation argument out of range", article.id),
                    ));
                }
            }
            article.text = text;
            Ok(article)
        })
        .collect()
}

/// Code-point spans of a phrase's tokens: runs of letters and digits, and single
/// other non-space characters.
pub fn phrase_tokens(text: &str, start: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut run: Option<usize> = None;
    let mut pos = start;
    for c in text.chars() {
        let word = c.is_alphanumeric() || c == '_';
        if !word {
            if let Some(s) = run.take() {
                out.push((s, pos));
            }
            if !c.is_whitespace() {
                out.push((pos, pos + 1));
            }
        } else if run.is_none() {
            run = Some(pos);
        }
        pos += 1;
    }
    if let Some(s) = run {
        out.push((s, pos));
    }
    out
}

/// Token-overlap F1 of two phrases given as token spans; two empty phrases agree.
pub fn token_f1(gold: &[(usize, usize)], predicted: &[(usize, usize)]) -> f64 {
    if gold.is_empty() && predicted.is_empty() {
        return 1.0;
    }
    let g: HashSet<_> = gold.iter().collect();
    let common = predicted.iter().filter(|t| g.contains(t)).count();
    2.0 * common as f64 / (gold.len() + predicted.len()) as f64
}

/// A predicted relation reduced to what the news scores compare.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictedRelation {
    /// Head mention span (code points).
    pub head: (usize, usize),
    /// Tail mention span.
    pub tail: (usize, usize),
    /// News-schema label, when the prediction's label maps onto one.
    pub label: Option<String>,
    /// Phrase token spans.
    pub phrase: Vec<(usize, usize)>,
    /// Model score, used to pick one prediction per pair.
    pub score: f32,
}

/// Mentions and typed relations (open links left out) of an erx [`Document`] in the form
/// [`NewsScorer`] compares.
pub fn predictions(doc: &Document) -> (Vec<Span>, Vec<PredictedRelation>) {
    let entities = doc
        .entities
        .iter()
        .flat_map(|e| {
            e.mentions
                .iter()
                .map(|m| Span::new(m.start, m.end, &e.label))
        })
        .collect();
    let by_id: HashMap<&str, &crate::document::Entity> =
        doc.entities.iter().map(|e| (e.id.as_str(), e)).collect();
    let span_of = |id: &str, k: usize| {
        by_id
            .get(id)
            .and_then(|e| e.mentions.get(k))
            .map(|m| (m.start, m.end))
    };
    // Open links carry no label and repeat typed pairs; the news schema is typed.
    let relations = doc
        .relations
        .iter()
        .filter(|r| r.schema != "open")
        .filter_map(|r| {
            let head = span_of(&r.head, r.head_mention)?;
            let tail = span_of(&r.tail, r.tail_mention)?;
            Some(PredictedRelation {
                head,
                tail,
                label: news_label(&r.schema, &r.label).map(str::to_owned),
                phrase: r
                    .phrase_start
                    .map_or_else(Vec::new, |s| phrase_tokens(&r.phrase, s)),
                score: r.score,
            })
        })
        .collect();
    (entities, relations)
}

/// All the news scores of one evaluation run.
#[derive(Debug, Clone, Serialize)]
pub struct NewsScores {
    /// Name entities (PER, ORG, LOC, MISC): exact span and type.
    pub names: Scores,
    /// Value entities (DATE … ORDINAL): exact span and type.
    pub values: Scores,
    /// Relations on ordered pairs of mention spans, label ignored.
    pub pairs: Prf,
    /// Relations on ordered pairs plus news label, per label.
    pub labelled: Scores,
    /// Mean phrase token F1 over pairs found in both.
    pub phrase_f1: f64,
    /// How many pairs the phrase F1 averages over.
    pub phrase_pairs: usize,
}

/// Accumulates news scores article by article.
#[derive(Debug, Default)]
pub struct NewsScorer {
    names: Scorer<Span>,
    values: Scorer<Span>,
    pairs: BTreeMap<String, Counts>,
    labelled: BTreeMap<String, Counts>,
    phrase_sum: f64,
    phrase_pairs: usize,
}

/// An ordered pair of mention spans: (head, tail).
type PairKey = ((usize, usize), (usize, usize));

/// Counts per label. `gold` maps each gold ordered pair to its (label, group), where a
/// group is one pair of names: gold pairs of one group and label count once, as found
/// when any of them is predicted. A prediction whose pair and label match no gold pair
/// is a false positive; one that matches an already found group is neither.
fn count_grouped(
    counts: &mut BTreeMap<String, Counts>,
    gold: &BTreeMap<PairKey, (&str, &str)>,
    predicted: &[(PairKey, &str)],
) {
    let mut found = BTreeSet::new();
    for &(key, label) in predicted {
        let c = counts.entry(label.to_owned()).or_default();
        match gold.get(&key) {
            Some(&(gold_label, group)) if gold_label == label => {
                if found.insert((gold_label, group)) {
                    c.tp += 1;
                }
            }
            _ => c.fp += 1,
        }
    }
    let groups: BTreeSet<(&str, &str)> = gold.values().copied().collect();
    for (label, _) in groups.difference(&found) {
        counts.entry((*label).to_owned()).or_default().fn_ += 1;
    }
}

impl NewsScorer {
    /// An empty scorer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one article: its gold annotation and the predicted mentions and relations.
    /// Predicted relations are reduced to one per ordered pair (the highest score) for the
    /// pair and phrase scores, and to one per pair and label for the labelled score.
    pub fn add(&mut self, gold: &NewsArticle, entities: &[Span], relations: &[PredictedRelation]) {
        let split = |spans: Vec<Span>| -> (Vec<Span>, Vec<Span>) {
            spans
                .into_iter()
                .partition(|s| !VALUE_LABELS.contains(&s.label.as_str()))
        };
        let gold_spans: Vec<Span> = gold
            .entities
            .iter()
            .map(|m| Span::new(m.start, m.end, &m.label))
            .collect();
        let (gold_names, gold_values) = split(gold_spans);
        let (pred_names, pred_values) = split(entities.to_vec());
        self.names.add(&gold_names, &pred_names);
        self.values.add(&gold_values, &pred_values);

        let span = |i: usize| (gold.entities[i].start, gold.entities[i].end);
        // erx keeps one relation per entity pair and label in a document, so gold relations
        // repeating a pair of names with one label form one group: found once, missed once.
        let groups: Vec<String> = gold
            .relations
            .iter()
            .map(|r| {
                let name = |i: usize| gold.entities[i].text.to_lowercase();
                format!("{}\u{1f}{}", name(r.head), name(r.tail))
            })
            .collect();
        let gold_pairs: BTreeMap<PairKey, &NewsRelation> = gold
            .relations
            .iter()
            .map(|r| ((span(r.head), span(r.tail)), r))
            .collect();
        let labelled: BTreeMap<PairKey, (&str, &str)> = gold
            .relations
            .iter()
            .zip(&groups)
            .map(|(r, g)| ((span(r.head), span(r.tail)), (r.label.as_str(), g.as_str())))
            .collect();
        let unlabelled: BTreeMap<PairKey, (&str, &str)> = labelled
            .iter()
            .map(|(&k, &(_, g))| (k, ("pair", g)))
            .collect();
        let mut best: BTreeMap<PairKey, &PredictedRelation> = BTreeMap::new();
        for p in relations {
            let slot = best.entry((p.head, p.tail)).or_insert(p);
            if p.score > slot.score {
                *slot = p;
            }
        }
        let predicted_pairs: Vec<(PairKey, &str)> = best.keys().map(|&k| (k, "pair")).collect();
        count_grouped(&mut self.pairs, &unlabelled, &predicted_pairs);
        let mut seen = HashSet::new();
        let predicted_labelled: Vec<(PairKey, &str)> = relations
            .iter()
            .map(|p| ((p.head, p.tail), p.label.as_deref().unwrap_or("(other)")))
            .filter(|x| seen.insert(*x))
            .collect();
        count_grouped(&mut self.labelled, &labelled, &predicted_labelled);

        for (key, p) in &best {
            if let Some(g) = gold_pairs.get(key) {
                let gold_tokens = match g.phrase_start {
                    Some(s) => phrase_tokens(&g.phrase, s),
                    None => Vec::new(),
                };
                self.phrase_sum += token_f1(&gold_tokens, &p.phrase);
                self.phrase_pairs += 1;
            }
        }
    }

    /// The scores over everything added so far.
    pub fn scores(&self) -> NewsScores {
        NewsScores {
            names: self.names.scores(),
            values: self.values.scores(),
            pairs: summarise(&self.pairs).micro,
            labelled: summarise(&self.labelled),
            phrase_f1: if self.phrase_pairs == 0 {
                0.0
            } else {
                self.phrase_sum / self.phrase_pairs as f64
            },
            phrase_pairs: self.phrase_pairs,
        }
    }
}

/// The default location of the dump the corpus was annotated on, relative to the current
/// directory, so it resolves when erx runs from the repository root as the README does;
/// `erx eval --dump` overrides it.
pub fn default_dump() -> PathBuf {
    PathBuf::from("../shared/datasets/articles/bbc-news.jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(start: usize, end: usize, text: &str, label: &str) -> NewsMention {
        NewsMention {
            start,
            end,
            text: text.into(),
            label: label.into(),
            sentence: 0,
        }
    }

    // "Blair met Bush in 2004 and fined Acme." (code points)
    //  Blair 0..5, met 6..9, Bush 10..14, 2004 18..22, fined 27..32, Acme 33..37
    fn gold() -> NewsArticle {
        NewsArticle {
            id: "t".into(),
            sha256: String::new(),
            sentences: vec![(0, 38)],
            entities: vec![
                mention(0, 5, "Blair", "PER"),
                mention(10, 14, "Bush", "PER"),
                mention(18, 22, "2004", "DATE"),
                mention(33, 37, "Acme", "ORG"),
            ],
            relations: vec![
                NewsRelation {
                    head: 0,
                    tail: 1,
                    label: "met".into(),
                    phrase: "met".into(),
                    phrase_start: Some(6),
                    phrase_end: Some(9),
                    negated: false,
                    sentence: 0,
                },
                NewsRelation {
                    head: 0,
                    tail: 3,
                    label: "action".into(),
                    phrase: "fined".into(),
                    phrase_start: Some(27),
                    phrase_end: Some(32),
                    negated: false,
                    sentence: 0,
                },
            ],
            text: String::new(),
        }
    }

    fn rel(
        head: (usize, usize),
        tail: (usize, usize),
        label: Option<&str>,
        phrase: &str,
        at: usize,
        score: f32,
    ) -> PredictedRelation {
        PredictedRelation {
            head,
            tail,
            label: label.map(str::to_owned),
            phrase: phrase_tokens(phrase, at),
            score,
        }
    }

    #[test]
    fn phrase_tokens_split_words_and_punctuation() {
        assert_eq!(
            phrase_tokens("denied a visa", 10),
            vec![(10, 16), (17, 18), (19, 23)]
        );
        assert_eq!(phrase_tokens("'s", 3), vec![(3, 4), (4, 5)]);
        assert_eq!(phrase_tokens("", 3), vec![]);
    }

    #[test]
    fn token_f1_by_hand() {
        // gold "denied a visa to" (4 tokens), predicted "denied" (1): 2*1/5
        let g = phrase_tokens("denied a visa to", 0);
        let p = phrase_tokens("denied", 0);
        assert!((token_f1(&g, &p) - 0.4).abs() < 1e-12);
        assert_eq!(token_f1(&[], &[]), 1.0);
        assert_eq!(token_f1(&g, &[]), 0.0);
    }

    #[test]
    fn hand_computed_article() {
        let g = gold();
        // Entities: Blair PER (right), Bush ORG (wrong type), 2004 DATE (right), Acme missed.
        let ents = vec![
            Span::new(0, 5, "PER"),
            Span::new(10, 14, "ORG"),
            Span::new(18, 22, "DATE"),
        ];
        // Pairs: Blair→Bush right pair, wrong label, phrase "met Bush"→ tokens met only
        // overlap... phrase "met" exact; a duplicate of that pair with lower score; a
        // reversed pair Bush→Blair (wrong); Blair→Acme missed.
        let rels = vec![
            rel((0, 5), (10, 14), Some("action"), "met", 6, 0.9),
            rel((0, 5), (10, 14), Some("met"), "Blair met", 0, 0.5),
            rel((10, 14), (0, 5), None, "met", 6, 0.8),
        ];
        let mut s = NewsScorer::new();
        s.add(&g, &ents, &rels);
        let r = s.scores();
        // names: tp 1 (Blair), fp 1 (Bush ORG), fn 2 (Bush PER, Acme)
        assert_eq!(
            (r.names.micro.tp, r.names.micro.fp, r.names.micro.fn_),
            (1, 1, 2)
        );
        assert_eq!(
            (r.values.micro.tp, r.values.micro.fp, r.values.micro.fn_),
            (1, 0, 0)
        );
        // pairs: predicted {Blair→Bush, Bush→Blair}; gold {Blair→Bush, Blair→Acme}
        assert_eq!((r.pairs.tp, r.pairs.fp, r.pairs.fn_), (1, 1, 1));
        assert!((r.pairs.f1 - 0.5).abs() < 1e-12);
        // labelled: predictions (Blair→Bush action), (Blair→Bush met), (Bush→Blair other)
        // gold (Blair→Bush met), (Blair→Acme action): tp 1, fp 2, fn 1
        let l = r.labelled.micro;
        assert_eq!((l.tp, l.fp, l.fn_), (1, 2, 1));
        // phrase: best-scored prediction on the matched pair says "met" = gold: 1.0
        assert_eq!(r.phrase_pairs, 1);
        assert_eq!(r.phrase_f1, 1.0);
    }

    #[test]
    fn a_repeated_pair_of_names_counts_once() {
        // "Blair met Bush. Blair met Bush again." -- erx prints one relation per entity
        // pair, so finding either copy finds the pair, and missing both misses it once.
        let mut g = gold();
        g.entities = vec![
            mention(0, 5, "Blair", "PER"),
            mention(10, 14, "Bush", "PER"),
            mention(16, 21, "Blair", "PER"),
            mention(26, 30, "Bush", "PER"),
        ];
        let met = |head, tail, at| NewsRelation {
            head,
            tail,
            label: "met".into(),
            phrase: "met".into(),
            phrase_start: Some(at),
            phrase_end: Some(at + 3),
            negated: false,
            sentence: 0,
        };
        g.relations = vec![met(0, 1, 6), met(2, 3, 22)];
        let mut s = NewsScorer::new();
        s.add(
            &g,
            &[],
            &[rel((16, 21), (26, 30), Some("met"), "met", 22, 0.9)],
        );
        let r = s.scores();
        assert_eq!((r.pairs.tp, r.pairs.fp, r.pairs.fn_), (1, 0, 0));
        let l = r.labelled.micro;
        assert_eq!((l.tp, l.fp, l.fn_), (1, 0, 0));
        let mut s = NewsScorer::new();
        s.add(&g, &[], &[]);
        assert_eq!(s.scores().pairs.fn_, 1);
    }

    #[test]
    fn conll04_labels_map_one_to_one() {
        let mapped: HashSet<_> = ["Work_For", "Live_In", "OrgBased_In", "Located_In", "Kill"]
            .iter()
            .filter_map(|l| news_label("conll04", l))
            .collect();
        assert_eq!(mapped.len(), 5);
        assert_eq!(news_label("crossre", "role"), None);
        assert_eq!(news_label("news", "met"), Some("met"));
    }

    #[test]
    fn loader_joins_text_and_refuses_a_different_dump() {
        let dir = tempfile::tempdir().unwrap();
        let text = "Blair met Bush in 2004 and fined Acme.";
        let mut article = gold();
        article.sha256 = sha256_hex(text.as_bytes());
        let corpus = dir.path().join("dev.jsonl");
        std::fs::write(&corpus, serde_json::to_string(&article).unwrap() + "\n").unwrap();
        let dump = dir.path().join("dump.jsonl");
        let record = serde_json::json!({"id": "t", "text": text});
        std::fs::write(&dump, record.to_string() + "\n").unwrap();
        let read = read_news(&corpus, &dump).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].text, text);

        let changed =
            serde_json::json!({"id": "t", "text": "Blair met Bush in 2005 and fined Acme."});
        std::fs::write(&dump, changed.to_string() + "\n").unwrap();
        let err = read_news(&corpus, &dump).unwrap_err().to_string();
        assert!(err.contains("sha256 mismatch"), "{err}");

        std::fs::write(&dump, "").unwrap();
        let err = read_news(&corpus, &dump).unwrap_err().to_string();
        assert!(err.contains("is not in"), "{err}");
    }
}

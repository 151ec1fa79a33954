//! Document stage: the output schema, one label per name in a document
//! ([`harmonise_labels`]), and the merging of sentence-level mentions into document-level
//! entities and relations.
//!
//! All offsets in the output are Unicode code-point offsets into the input text, so in
//! Python `text[start:end] == mention["text"]`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::card::RelationLabel;
use crate::decode::signature_allows;

/// One extracted document (one output line of `erx extract`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The input record's id (a JSON string or number, echoed as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    /// Document-level entities, in order of first mention.
    pub entities: Vec<Entity>,
    /// Relations between entities.
    pub relations: Vec<Relation>,
    /// How the document was processed.
    pub meta: Meta,
}

/// A document-level entity: every mention of one real-world thing, or one value (a date,
/// an amount, a count), which is never merged with another mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// `e0`, `e1`, … in order of first mention.
    pub id: String,
    /// Entity type: a name (`PER`, `ORG`, `LOC`, `MISC`) or, with a model that has a
    /// value head, a value (`DATE`, `TIME`, `MONEY`, `PERCENT`, `QUANTITY`, `CARDINAL`,
    /// `ORDINAL`).
    pub label: String,
    /// Canonical name: the longest mention.
    pub text: String,
    /// Highest mention score.
    pub score: f32,
    /// Mentions in text order.
    pub mentions: Vec<Mention>,
}

/// One mention: a span of the input text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// Code-point offset of the first character.
    pub start: usize,
    /// Code-point offset after the last character.
    pub end: usize,
    /// The input text between `start` and `end`.
    pub text: String,
    /// Mean tag probability.
    pub score: f32,
}

/// A relation between two entities, with the phrase that expresses it: a label from the
/// model card, or a label-free link through a predicate (schema `open`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// Head entity id.
    pub head: String,
    /// Tail entity id.
    pub tail: String,
    /// Index of the head's mention (in the head entity's `mentions`) this relation was read from.
    pub head_mention: usize,
    /// Index of the tail's mention (in the tail entity's `mentions`).
    pub tail_mention: usize,
    /// Relation label from the model card, or `subject-object` for an open link.
    pub label: String,
    /// Label set of the label (`conll04`, `crossre`; `open` for open links).
    pub schema: String,
    /// Words of the sentence that express the relation; empty when the pair alone
    /// carries it ("BBC's Nick Robinson").
    pub phrase: String,
    /// Sigmoid score of the label, or for an open link the predicate's mean tag
    /// probability.
    pub score: f32,
    /// Code-point offset where the evidence (both mentions and the phrase) starts.
    pub start: usize,
    /// Code-point offset where the evidence ends.
    pub end: usize,
    /// Code-point offsets of `phrase` (`null` when it is empty).
    pub phrase_start: Option<usize>,
    /// End of `phrase`.
    pub phrase_end: Option<usize>,
    /// True when the phrase denies the relation ("was not hired by", "never met").
    pub negated: bool,
}

/// Processing facts about a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Meta {
    /// Model name.
    pub model: String,
    /// Sentences found.
    pub sentences: usize,
    /// Word pieces fed to the model (without special tokens).
    pub tokens: usize,
    /// Model windows used.
    pub windows: usize,
    /// Always false: long texts are windowed, never cut.
    pub truncated: bool,
    /// Execution provider that ran the model (`cpu`, `cuda`).
    pub provider: String,
}

/// A mention before merging: byte span in the document plus its sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMention {
    /// Byte range in the document.
    pub bytes: std::ops::Range<usize>,
    /// Entity type.
    pub label: String,
    /// Mean tag probability.
    pub score: f32,
    /// A value (date, amount, count): never merged by name parts, relabelled, or made an
    /// argument of a relation.
    pub value: bool,
}

/// A relation before merging: indices into the document's raw mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRelation {
    /// Head raw mention.
    pub head: usize,
    /// Tail raw mention.
    pub tail: usize,
    /// Label.
    pub label: String,
    /// Label set.
    pub schema: String,
    /// Sigmoid score, or the predicate's probability for an open link.
    pub score: f32,
    /// Byte range of the phrase, if there is one.
    pub phrase: Option<std::ops::Range<usize>>,
}

const LEADING_WORDS: [&str; 3] = ["the", "a", "an"];

/// Lower-cased name parts of a mention: dots removed ("U.S." → "us"), possessive "'s"
/// and a leading article dropped, split on spaces and hyphens.
pub fn name_parts(text: &str) -> Vec<String> {
    let mut parts: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            let w = w
                .strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w);
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if parts.len() > 1 && LEADING_WORDS.contains(&parts[0].as_str()) {
        parts.remove(0);
    }
    parts
}

/// Whether a mention (`parts`) can refer to an entity known by `names` (the parts of its
/// mentions so far), given the type: equal names always; for people any single name part
/// ("Choe" → "Choe Son Hui", "Trump" → "Donald Trump"); for other types a shared tail of
/// at least two words ("US State Department" ↔ "State Department") or an acronym
/// ("UN" ↔ "United Nations"), and for organisations a name plus a legal form ("Toyota" ↔
/// "Toyota Motor Corp.").
pub fn same_entity(label: &str, parts: &[String], names: &[Vec<String>]) -> bool {
    if parts.is_empty() {
        return false;
    }
    names.iter().any(|name| {
        if name == parts {
            return true;
        }
        if label == "PER" {
            let name: &[String] = name;
            let (short, long) = if parts.len() <= name.len() {
                (parts, name)
            } else {
                (name, parts)
            };
            return short.iter().all(|p| long.contains(p));
        }
        let shared = parts
            .iter()
            .rev()
            .zip(name.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        if shared >= 2 && shared == parts.len().min(name.len()) {
            return true;
        }
        if label == "ORG" && same_company(parts, name) {
            return true;
        }
        is_acronym(parts, name) || is_acronym(name, parts)
    })
}

/// Legal-form words that a company name may carry or drop ("Toyota Motor Corp." ↔ "Toyota").
const COMPANY_SUFFIXES: [&str; 12] = [
    "inc",
    "corp",
    "corporation",
    "co",
    "ltd",
    "plc",
    "llc",
    "ag",
    "sa",
    "group",
    "company",
    "holdings",
];

/// One name is the other plus words ending in a legal form: "Toyota" ↔ "Toyota Motor Corp".
fn same_company(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.len() > short.len()
        && long.starts_with(short)
        && long
            .last()
            .is_some_and(|w| COMPANY_SUFFIXES.contains(&w.as_str()))
}

fn is_acronym(short: &[String], long: &[String]) -> bool {
    short.len() == 1 && initials(long).is_some_and(|i| i == short[0])
}

/// Initials of a name of two or more words, skipping function words ("United Nations" → "un").
fn initials(parts: &[String]) -> Option<String> {
    if parts.len() < 2 {
        return None;
    }
    let s: String = parts
        .iter()
        .filter(|w| {
            !matches!(w.as_str(), "of" | "and" | "for" | "the")
                && !COMPANY_SUFFIXES.contains(&w.as_str())
        })
        .filter_map(|w| w.chars().next())
        .collect();
    (s.chars().count() >= 2).then_some(s)
}

/// Gives every mention of one name in a document the same label, returning how many
/// labels changed. A name is the mention text compared case-insensitively; its label is
/// the one most of its mentions were read with, a tie going to the larger summed score,
/// then to the label read first. A sentence alone often cannot tell a team from its
/// town ("Japan beat Syria"), while the rest of the article can: on CoNLL-2003 dev, read
/// eight sentences per text, the vote took F1 from 0.9307 to 0.9339. Scores stay those of
/// each mention's own tags.
pub fn harmonise_labels(text: &str, mentions: &mut [RawMention]) -> usize {
    struct Tally {
        label: String,
        count: usize,
        score: f32,
    }
    let names: Vec<String> = mentions
        .iter()
        .map(|m| text.get(m.bytes.clone()).unwrap_or_default().to_lowercase())
        .collect();
    // name → its labels in order of first reading
    let mut tallies: HashMap<&str, Vec<Tally>> = HashMap::new();
    for (m, name) in mentions.iter().zip(&names).filter(|(m, _)| !m.value) {
        let labels = tallies.entry(name).or_default();
        match labels.iter_mut().find(|t| t.label == m.label) {
            Some(t) => {
                t.count += 1;
                t.score += m.score;
            }
            None => labels.push(Tally {
                label: m.label.clone(),
                count: 1,
                score: m.score,
            }),
        }
    }
    // first of the best: `max_by` would keep the last of equals
    let winners: HashMap<&str, &str> = tallies
        .iter()
        .filter_map(|(name, labels)| {
            let best = labels.iter().fold(None::<&Tally>, |best, t| match best {
                Some(b) if (b.count, b.score) >= (t.count, t.score) => Some(b),
                _ => Some(t),
            })?;
            Some((*name, best.label.as_str()))
        })
        .collect();
    let mut changed = 0;
    for (m, name) in mentions.iter_mut().zip(&names).filter(|(m, _)| !m.value) {
        match winners.get(name.as_str()) {
            Some(&best) if best != m.label => {
                m.label = best.to_string();
                changed += 1;
            }
            _ => {}
        }
    }
    changed
}

/// [`harmonise_labels`] on a document, then drops each relation whose label (looked up in
/// `labels`, the model card's) no longer allows its arguments' new types; labels not in
/// `labels`, such as open links, allow any.
pub fn harmonise_document(
    text: &str,
    mentions: &mut [RawMention],
    relations: &mut Vec<RawRelation>,
    labels: &[RelationLabel],
) {
    if harmonise_labels(text, mentions) == 0 {
        return;
    }
    relations.retain(|r| {
        let (Some(head), Some(tail)) = (mentions.get(r.head), mentions.get(r.tail)) else {
            return false;
        };
        labels
            .iter()
            .filter(|l| l.label == r.label && l.schema == r.schema)
            .all(|l| signature_allows(&l.signatures, &head.label, &tail.label))
    });
}

/// Merges mentions into entities and relations between entities, and converts byte
/// offsets to code points. A name mention is attached to the most recent compatible
/// entity; a value is an entity of its own. Relations that land on the same pair of
/// entities are kept once per label, or once per pair with `one_per_pair`, the best
/// score winning.
pub fn assemble(
    text: &str,
    chars: &crate::tokenize::CharIndex,
    mentions: &[RawMention],
    relations: &[RawRelation],
    meta: Meta,
    id: Option<serde_json::Value>,
    one_per_pair: bool,
) -> Document {
    let mut order: Vec<usize> = (0..mentions.len()).collect();
    order.sort_by_key(|&i| (mentions[i].bytes.start, mentions[i].bytes.end));
    let mut entities: Vec<Entity> = Vec::new();
    let mut names: Vec<Vec<Vec<String>>> = Vec::new();
    // (label, name part or initials) → entities known by it: only these can match
    let mut by_part: HashMap<(String, String), Vec<usize>> = HashMap::new();
    let mut entity_of = vec![0usize; mentions.len()];
    let mut position = vec![0usize; mentions.len()];
    let slice = |r: &std::ops::Range<usize>| text.get(r.clone()).unwrap_or_default().to_string();
    for &i in &order {
        let m = &mentions[i];
        let mention_text = slice(&m.bytes);
        let parts = if m.value {
            Vec::new()
        } else {
            name_parts(&mention_text)
        };
        let mut candidates: Vec<usize> = parts
            .iter()
            .cloned()
            .chain(initials(&parts))
            .filter_map(|p| by_part.get(&(m.label.clone(), p)))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let found = candidates
            .into_iter()
            .rev()
            .find(|&e| !m.value && same_entity(&m.label, &parts, &names[e]));
        let e = found.unwrap_or_else(|| {
            entities.push(Entity {
                id: format!("e{}", entities.len()),
                label: m.label.clone(),
                text: String::new(),
                score: 0.0,
                mentions: Vec::new(),
            });
            names.push(Vec::new());
            entities.len() - 1
        });
        entity_of[i] = e;
        let ent = &mut entities[e];
        position[i] = ent.mentions.len();
        if mention_text.chars().count() > ent.text.chars().count() {
            ent.text = mention_text.clone();
        }
        ent.score = ent.score.max(m.score);
        ent.mentions.push(Mention {
            start: chars.char_offset(m.bytes.start),
            end: chars.char_offset(m.bytes.end),
            text: mention_text,
            score: m.score,
        });
        if !names[e].contains(&parts) {
            for key in parts.iter().cloned().chain(initials(&parts)) {
                let list = by_part.entry((m.label.clone(), key)).or_default();
                if list.last() != Some(&e) {
                    list.push(e);
                }
            }
            names[e].push(parts);
        }
    }

    let mut out: Vec<Relation> = Vec::new();
    let mut seen: HashMap<(usize, usize, &str), usize> = HashMap::new();
    for r in relations {
        let (Some(&h), Some(&t)) = (entity_of.get(r.head), entity_of.get(r.tail)) else {
            continue;
        };
        if h == t {
            continue;
        }
        let (hb, tb) = (&mentions[r.head].bytes, &mentions[r.tail].bytes);
        let mut start = hb.start.min(tb.start);
        let mut end = hb.end.max(tb.end);
        if let Some(p) = &r.phrase {
            start = start.min(p.start);
            end = end.max(p.end);
        }
        let phrase = r.phrase.as_ref().map(slice).unwrap_or_default();
        let rel = Relation {
            head: entities[h].id.clone(),
            tail: entities[t].id.clone(),
            head_mention: position[r.head],
            tail_mention: position[r.tail],
            label: r.label.clone(),
            schema: r.schema.clone(),
            negated: phrase_is_negated(&phrase),
            phrase,
            score: r.score,
            start: chars.char_offset(start),
            end: chars.char_offset(end),
            phrase_start: r.phrase.as_ref().map(|p| chars.char_offset(p.start)),
            phrase_end: r.phrase.as_ref().map(|p| chars.char_offset(p.end)),
        };
        let key = (h, t, if one_per_pair { "" } else { r.label.as_str() });
        match seen.get(&key) {
            Some(&k) if out[k].score < rel.score => out[k] = rel,
            Some(_) => {}
            None => {
                seen.insert(key, out.len());
                out.push(rel);
            }
        }
    }
    Document {
        id,
        entities,
        relations: out,
        meta,
    }
}

/// Whether a relation phrase denies the relation: it holds a negation word ("not",
/// "never", "no", "without", "nor", "cannot", "neither") or a contracted "n't".
pub fn phrase_is_negated(phrase: &str) -> bool {
    const NEGATIONS: [&str; 7] = ["not", "never", "no", "without", "nor", "cannot", "neither"];
    phrase
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .any(|w| {
            let lower = w.to_lowercase();
            NEGATIONS.contains(&lower.as_str())
                || lower.ends_with("n't")
                || lower.ends_with("n\u{2019}t")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::CharIndex;

    fn parts(s: &str) -> Vec<String> {
        name_parts(s)
    }

    #[test]
    fn name_parts_normalise() {
        assert_eq!(
            parts("the U.S. State Department"),
            vec!["us", "state", "department"]
        );
        assert_eq!(parts("Kim Jong-nam's"), vec!["kim", "jong", "nam"]);
        assert_eq!(parts("The"), vec!["the"]);
    }

    #[test]
    fn people_merge_on_name_parts() {
        let known = vec![parts("Choe Son Hui")];
        assert!(same_entity("PER", &parts("Choe"), &known));
        assert!(same_entity(
            "PER",
            &parts("Donald Trump"),
            &[parts("Trump")]
        ));
        assert!(!same_entity(
            "PER",
            &parts("Kim Jong-un"),
            &[parts("Kim Jong-nam")]
        ));
    }

    #[test]
    fn organisations_merge_on_shared_tail_or_acronym() {
        assert!(same_entity(
            "ORG",
            &parts("US State Department"),
            &[parts("the State Department")]
        ));
        assert!(same_entity("ORG", &parts("UN"), &[parts("United Nations")]));
        assert!(same_entity(
            "ORG",
            &parts("Toyota"),
            &[parts("Toyota Motor Corp.")]
        ));
        assert!(!same_entity(
            "ORG",
            &parts("Toyota Motor"),
            &[parts("Toyota Tsusho")]
        ));
        assert!(!same_entity(
            "LOC",
            &parts("South Korea"),
            &[parts("North Korea")]
        ));
        assert!(!same_entity(
            "LOC",
            &parts("Korea"),
            &[parts("North Korea")]
        ));
    }

    fn raw(bytes: std::ops::Range<usize>, label: &str, score: f32) -> RawMention {
        RawMention {
            bytes,
            label: label.into(),
            score,
            value: false,
        }
    }

    fn labels_of(mentions: &[RawMention]) -> Vec<&str> {
        mentions.iter().map(|m| m.label.as_str()).collect()
    }

    #[test]
    fn one_name_gets_its_majority_label() {
        //          0    5    10   15   20   25   30
        let text = "Japan beat Syria. JAPAN lost. Japan won. Syria";
        let mut m = vec![
            raw(0..5, "LOC", 0.9),
            raw(11..16, "LOC", 0.9),
            raw(18..23, "ORG", 0.6),
            raw(30..35, "ORG", 0.7),
            raw(41..46, "LOC", 0.5),
        ];
        assert_eq!(harmonise_labels(text, &mut m), 1);
        assert_eq!(
            labels_of(&m),
            ["ORG", "LOC", "ORG", "ORG", "LOC"],
            "two ORG readings of japan outvote one LOC, case aside; syria is left alone"
        );
    }

    #[test]
    fn a_tied_vote_goes_to_the_larger_score_then_to_the_first_label() {
        let text = "Kent Kent Kent Kent";
        let mut m = vec![raw(0..4, "LOC", 0.4), raw(5..9, "ORG", 0.9)];
        assert_eq!(harmonise_labels(text, &mut m), 1);
        assert_eq!(labels_of(&m), ["ORG", "ORG"]);
        let mut m = vec![raw(10..14, "ORG", 0.5), raw(15..19, "LOC", 0.5)];
        assert_eq!(harmonise_labels(text, &mut m), 1);
        assert_eq!(
            labels_of(&m),
            ["ORG", "ORG"],
            "the label read first, not the first by name"
        );
        let mut none: Vec<RawMention> = Vec::new();
        assert_eq!(harmonise_labels(text, &mut none), 0);
    }

    #[test]
    fn relations_that_no_longer_fit_their_signature_are_dropped() {
        let text = "Kent hired Smith. Kent is in England. Kent won.";
        let mut mentions = vec![
            raw(0..4, "ORG", 0.9),   // Kent (read as ORG here)
            raw(11..16, "PER", 0.9), // Smith
            raw(18..22, "LOC", 0.8), // Kent
            raw(29..36, "LOC", 0.9), // England
            raw(38..42, "LOC", 0.7), // Kent
        ];
        let rel = |head, tail, label: &str, schema: &str| RawRelation {
            head,
            tail,
            label: label.into(),
            schema: schema.into(),
            score: 0.9,
            phrase: Some(5..10),
        };
        let mut relations = vec![
            rel(1, 0, "Work_For", "conll04"),
            rel(2, 3, "Located_In", "conll04"),
            rel(1, 0, "subject-object", "open"),
        ];
        let labels = |label: &str, head: &str, tail: &str| RelationLabel {
            label: label.into(),
            schema: "conll04".into(),
            threshold: 0.5,
            signatures: vec![(head.into(), tail.into())],
        };
        let card = [
            labels("Work_For", "PER", "ORG"),
            labels("Located_In", "LOC", "LOC"),
        ];
        harmonise_document(text, &mut mentions, &mut relations, &card);
        assert_eq!(labels_of(&mentions), ["LOC", "PER", "LOC", "LOC", "LOC"]);
        let kept: Vec<&str> = relations.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            kept,
            ["Located_In", "subject-object"],
            "Work_For needs an ORG tail; the open link has no signature"
        );
    }

    #[test]
    fn assemble_merges_mentions_and_relations_with_char_offsets() {
        let text = "Émile Zola met Choe Son Hui. Later Choe left the State Department.";
        let find = |s: &str| {
            let b = text.find(s).unwrap_or(0);
            b..b + s.len()
        };
        let mentions = vec![
            RawMention {
                bytes: find("Émile Zola"),
                label: "PER".into(),
                score: 0.9,
                value: false,
            },
            RawMention {
                bytes: find("Choe Son Hui"),
                label: "PER".into(),
                score: 0.8,
                value: false,
            },
            RawMention {
                bytes: find("Choe left").start..find("Choe left").start + 4,
                label: "PER".into(),
                score: 0.7,
                value: false,
            },
            RawMention {
                bytes: find("State Department"),
                label: "ORG".into(),
                score: 0.6,
                value: false,
            },
        ];
        let relations = vec![
            RawRelation {
                head: 2,
                tail: 3,
                label: "Work_For".into(),
                schema: "conll04".into(),
                score: 0.7,
                phrase: Some(find("left")),
            },
            RawRelation {
                head: 1,
                tail: 3,
                label: "Work_For".into(),
                schema: "conll04".into(),
                score: 0.9,
                phrase: Some(find("met")),
            },
        ];
        let doc = assemble(
            text,
            &CharIndex::new(text),
            &mentions,
            &relations,
            Meta::default(),
            None,
            false,
        );
        assert_eq!(doc.entities.len(), 3);
        let choe = &doc.entities[1];
        assert_eq!(choe.text, "Choe Son Hui");
        assert_eq!(choe.mentions.len(), 2);
        let chars: Vec<char> = text.chars().collect();
        for e in &doc.entities {
            for m in &e.mentions {
                let s: String = chars[m.start..m.end].iter().collect();
                assert_eq!(s, m.text);
            }
        }
        // the two relations collapse to one between e1 and e2, keeping the best score
        assert_eq!(doc.relations.len(), 1);
        assert_eq!(
            (
                doc.relations[0].head.as_str(),
                doc.relations[0].tail.as_str()
            ),
            ("e1", "e2")
        );
        assert_eq!(doc.relations[0].phrase, "met");
        let r = &doc.relations[0];
        let (Some(ps), Some(pe)) = (r.phrase_start, r.phrase_end) else {
            panic!("the relation has a phrase");
        };
        let p: String = chars[ps..pe].iter().collect();
        assert_eq!(p, "met");
        assert!(!r.negated);
    }

    fn raw_mention(bytes: std::ops::Range<usize>, label: &str, value: bool) -> RawMention {
        RawMention {
            bytes,
            label: label.into(),
            score: 0.9,
            value,
        }
    }

    #[test]
    fn values_stay_apart_and_keep_their_labels() {
        let text = "In 2003 Acme made $5m; in 2004 Acme made $5m again.";
        let at = |s: &str, k: usize| -> std::ops::Range<usize> {
            let (b, m) = text.match_indices(s).nth(k).unwrap_or((0, ""));
            b..b + m.len()
        };
        let mut mentions = vec![
            raw_mention(at("$5m", 0), "MONEY", true),
            raw_mention(at("$5m", 1), "CARDINAL", true),
            raw_mention(at("Acme", 0), "ORG", false),
            raw_mention(at("Acme", 1), "ORG", false),
        ];
        // the vote over identical texts leaves values alone
        assert_eq!(harmonise_labels(text, &mut mentions), 0);
        assert_eq!(mentions[1].label, "CARDINAL");
        let chars = CharIndex::new(text);
        let doc = assemble(text, &chars, &mentions, &[], Meta::default(), None, true);
        let labels: Vec<(&str, usize)> = doc
            .entities
            .iter()
            .map(|e| (e.label.as_str(), e.mentions.len()))
            .collect();
        assert_eq!(labels, vec![("ORG", 2), ("MONEY", 1), ("CARDINAL", 1)]);
    }

    #[test]
    fn one_relation_per_pair_keeps_the_best_label() {
        let text = "Ann Lee joined Acme.";
        let mentions = vec![
            raw_mention(0..7, "PER", false),
            raw_mention(15..19, "ORG", false),
        ];
        let rel = |label: &str, score: f32, phrase: Option<std::ops::Range<usize>>| RawRelation {
            head: 0,
            tail: 1,
            label: label.into(),
            schema: "news".into(),
            score,
            phrase,
        };
        let relations = vec![
            rel("affiliation", 0.6, None),
            rel("works_for", 0.8, Some(8..14)),
        ];
        let chars = CharIndex::new(text);
        let assembled = |one_per_pair| {
            assemble(
                text,
                &chars,
                &mentions,
                &relations,
                Meta::default(),
                None,
                one_per_pair,
            )
        };
        let all = assembled(false);
        assert_eq!(all.relations.len(), 2);
        assert_eq!(all.relations[0].phrase, "");
        assert_eq!(all.relations[0].phrase_start, None);
        let one = assembled(true);
        assert_eq!(one.relations.len(), 1);
        assert_eq!(one.relations[0].label, "works_for");
        assert_eq!(one.relations[0].phrase, "joined");
        assert_eq!((one.relations[0].start, one.relations[0].end), (0, 19));
    }

    #[test]
    fn negation_is_read_from_the_phrase() {
        for p in [
            "was not hired by",
            "never met",
            "didn't join",
            "Didn\u{2019}t join",
            "without crediting",
        ] {
            assert!(phrase_is_negated(p), "{p}");
        }
        for p in ["", "joined", "nothing but", "Notts", "knotted", "north of"] {
            assert!(!phrase_is_negated(p), "{p}");
        }
    }
}

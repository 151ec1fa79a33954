//! Readers for gold-annotated files: CoNLL-2003, CoNLL04 (JSON) and CrossRE (JSONL).
//!
//! Every reader yields [`GoldSentence`]s with entity types in the CoNLL-2003 scheme where a
//! mapping exists ([`map_conll04_type`], [`map_crossre_type`]), so one model's output can be
//! scored against all three.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;

use super::score::{chunks, is_valid_tag, RelationTuple, Span};

/// One gold sentence: its tokens and its annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldSentence {
    /// The gold tokenisation; spans index into it.
    pub tokens: Vec<String>,
    /// Gold entities, in token order for the tag-based formats, file order for CrossRE.
    pub entities: Vec<Span>,
    /// Gold relations; empty for CoNLL-2003.
    pub relations: Vec<RelationTuple>,
}

/// Which file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoldFormat {
    /// CoNLL-2003 column format: `TOKEN TAG` or `TOKEN POS CHUNK TAG` lines.
    Conll2003,
    /// CoNLL04 as a JSON array of `{tokens, tags, relations}` records with BILOU tags.
    Conll04,
    /// CrossRE JSONL: one `{sentence, ner, relations}` object per line.
    CrossRe,
}

impl FromStr for GoldFormat {
    type Err = GoldError;

    /// Accepts `conll2003`, `conll04` and `crossre`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "conll2003" => Ok(GoldFormat::Conll2003),
            "conll04" => Ok(GoldFormat::Conll04),
            "crossre" => Ok(GoldFormat::CrossRe),
            _ => Err(GoldError::UnknownFormat { name: s.to_owned() }),
        }
    }
}

impl fmt::Display for GoldFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GoldFormat::Conll2003 => "conll2003",
            GoldFormat::Conll04 => "conll04",
            GoldFormat::CrossRe => "crossre",
        })
    }
}

/// Where in a gold file a parse error is; both numbers count from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A line of the file.
    Line(usize),
    /// A record (array element) of a JSON array file.
    Record(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Why a gold file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read gold file {}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid for its format.
    #[error("{}{at}: {message}", file_prefix(path.as_deref()))]
    Parse {
        /// The file, when parsing went through [`read_gold`].
        path: Option<PathBuf>,
        /// The offending line or record.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A format name that [`GoldFormat::from_str`] does not know.
    #[error("unknown gold format `{name}` (expected conll2003, conll04 or crossre)")]
    UnknownFormat {
        /// The name given.
        name: String,
    },
}

fn file_prefix(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

fn parse_error(at: Location, message: impl Into<String>) -> GoldError {
    GoldError::Parse {
        path: None,
        at,
        message: message.into(),
    }
}

/// serde_json's message without its " at line L column C" suffix, which callers restate.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// Reads and parses a gold file.
///
/// # Errors
/// [`GoldError::Io`] if the file cannot be read as UTF-8 text, [`GoldError::Parse`] (with
/// the path filled in) if its content is invalid for `format`.
pub fn read_gold(path: &Path, format: GoldFormat) -> Result<Vec<GoldSentence>, GoldError> {
    let text = std::fs::read_to_string(path).map_err(|source| GoldError::Io {
        path: path.to_owned(),
        source,
    })?;
    let parsed = match format {
        GoldFormat::Conll2003 => parse_conll2003(&text),
        GoldFormat::Conll04 => parse_conll04(&text),
        GoldFormat::CrossRe => parse_crossre(&text),
    };
    parsed.map_err(|e| match e {
        GoldError::Parse { at, message, .. } => GoldError::Parse {
            path: Some(path.to_owned()),
            at,
            message,
        },
        other => other,
    })
}

fn invalid_tag(tag: &str) -> String {
    format!("invalid tag `{tag}` (expected `O` or B-/I-/L-/E-/U-/S- followed by a type)")
}

/// Parses CoNLL-2003 text.
///
/// Each token line is `TOKEN TAG` or `TOKEN POS CHUNK TAG` (any line of two or more
/// whitespace-separated columns: the first is the token, the last the tag). Blank lines end
/// sentences; `-DOCSTART-` lines are skipped and also end a sentence. Entities come from
/// [`chunks`], so IOB1 and IOB2 both work.
///
/// # Errors
/// [`GoldError::Parse`] naming the line of a one-column line or of an invalid tag.
pub fn parse_conll2003(text: &str) -> Result<Vec<GoldSentence>, GoldError> {
    let mut sentences = Vec::new();
    let mut tokens = Vec::new();
    let mut tags = Vec::new();
    let flush = |tokens: &mut Vec<String>, tags: &mut Vec<&str>, out: &mut Vec<GoldSentence>| {
        if !tokens.is_empty() {
            out.push(GoldSentence {
                tokens: std::mem::take(tokens),
                entities: chunks(tags),
                relations: Vec::new(),
            });
            tags.clear();
        }
    };
    for (idx, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let at = Location::Line(idx + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with("-DOCSTART-") {
            flush(&mut tokens, &mut tags, &mut sentences);
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [token, .., tag] = cols.as_slice() else {
            return Err(parse_error(
                at,
                format!("expected `TOKEN TAG` or `TOKEN POS CHUNK TAG`, found `{line}`"),
            ));
        };
        if !is_valid_tag(tag) {
            return Err(parse_error(at, invalid_tag(tag)));
        }
        tokens.push((*token).to_owned());
        tags.push(*tag);
    }
    flush(&mut tokens, &mut tags, &mut sentences);
    Ok(sentences)
}

/// Maps a CoNLL04 entity type to the CoNLL-2003 scheme: `Peop` -> `PER`, `Org` -> `ORG`,
/// `Loc` -> `LOC`, `Other` -> `MISC`; anything else is returned unchanged (case-sensitive).
pub fn map_conll04_type(label: &str) -> &str {
    match label {
        "Peop" => "PER",
        "Org" => "ORG",
        "Loc" => "LOC",
        "Other" => "MISC",
        other => other,
    }
}

#[derive(Deserialize)]
struct Conll04Record {
    tokens: Vec<String>,
    tags: Vec<String>,
    #[serde(default)]
    relations: Vec<Conll04Relation>,
    #[serde(default)]
    orig_id: Option<Value>,
}

#[derive(Deserialize)]
struct Conll04Relation {
    head: usize,
    tail: usize,
    #[serde(rename = "type")]
    label: String,
}

/// Parses CoNLL04 JSON: an array of `{"tokens", "tags", "relations", "orig_id"}` records.
///
/// Tags are BILOU; entity types go through [`map_conll04_type`]. A relation's `head` and
/// `tail` index the sentence's entities in the order [`chunks`] returns them. Errors in JSON
/// syntax or field types name the line; errors in a record's content name the record.
///
/// # Errors
/// [`GoldError::Parse`] for invalid JSON, token/tag count mismatches, invalid tags and
/// out-of-range relation indices.
pub fn parse_conll04(text: &str) -> Result<Vec<GoldSentence>, GoldError> {
    let records: Vec<Conll04Record> = serde_json::from_str(text).map_err(|e| {
        let msg = format!(
            "invalid CoNLL04 JSON: {} (column {})",
            json_message(&e),
            e.column()
        );
        parse_error(Location::Line(e.line()), msg)
    })?;
    records
        .into_iter()
        .enumerate()
        .map(|(idx, record)| conll04_sentence(record, Location::Record(idx + 1)))
        .collect()
}

fn conll04_sentence(record: Conll04Record, at: Location) -> Result<GoldSentence, GoldError> {
    let id = record
        .orig_id
        .as_ref()
        .map(|id| format!(" (orig_id {id})"))
        .unwrap_or_default();
    if record.tokens.len() != record.tags.len() {
        return Err(parse_error(
            at,
            format!(
                "{} tokens but {} tags{id}",
                record.tokens.len(),
                record.tags.len()
            ),
        ));
    }
    if let Some(tag) = record.tags.iter().find(|t| !is_valid_tag(t)) {
        return Err(parse_error(at, format!("{}{id}", invalid_tag(tag))));
    }
    let tags: Vec<&str> = record.tags.iter().map(String::as_str).collect();
    let entities: Vec<Span> = chunks(&tags)
        .into_iter()
        .map(|s| Span::new(s.start, s.end, map_conll04_type(&s.label)))
        .collect();
    let entity = |rel: usize, role: &str, index: usize| {
        entities.get(index).cloned().ok_or_else(|| {
            let n = entities.len();
            let msg = format!(
                "relation {rel}: {role} index {index} out of range, the sentence has {n} entities{id}"
            );
            parse_error(at, msg)
        })
    };
    let relations = record
        .relations
        .iter()
        .enumerate()
        .map(|(j, r)| {
            Ok(RelationTuple {
                head: entity(j, "head", r.head)?,
                tail: entity(j, "tail", r.tail)?,
                label: r.label.clone(),
            })
        })
        .collect::<Result<_, GoldError>>()?;
    Ok(GoldSentence {
        tokens: record.tokens,
        entities,
        relations,
    })
}

/// Maps a CrossRE entity type to the CoNLL-2003 scheme: `person` -> `PER`, `organisation` ->
/// `ORG`, `location` and `country` -> `LOC`, `misc` -> `MISC`; the many domain-specific types
/// (e.g. `politicalparty`, `event`) have no CoNLL-2003 counterpart and are returned unchanged.
pub fn map_crossre_type(label: &str) -> &str {
    match label {
        "person" => "PER",
        "organisation" => "ORG",
        "location" | "country" => "LOC",
        "misc" => "MISC",
        other => other,
    }
}

#[derive(Deserialize)]
struct CrossReRecord {
    #[serde(default)]
    doc_key: Option<String>,
    sentence: Vec<String>,
    #[serde(default)]
    ner: Vec<(usize, usize, String)>,
    // Kept loose: entries carry trailing explanation/flag fields that strict tuples would reject.
    #[serde(default)]
    relations: Vec<Vec<Value>>,
}

/// Parses CrossRE JSONL: one `{"doc_key", "sentence", "ner", "relations"}` object per line.
///
/// `ner` entries are `[start, end_inclusive, type]`; spans become `[start, end)` and types go
/// through [`map_crossre_type`]. `relations` entries start with
/// `[head_start, head_end_incl, tail_start, tail_end_incl, label, ...]`; each argument must be
/// one of the sentence's `ner` spans, which gives it its type (the first such entry if several
/// share the span). Blank lines are skipped; every error names its line.
///
/// # Errors
/// [`GoldError::Parse`] for invalid JSON, `ner` spans outside the sentence, malformed
/// relation entries and relation arguments that are not `ner` spans.
pub fn parse_crossre(text: &str) -> Result<Vec<GoldSentence>, GoldError> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(idx, line)| crossre_sentence(line, Location::Line(idx + 1)))
        .collect()
}

fn crossre_sentence(line: &str, at: Location) -> Result<GoldSentence, GoldError> {
    let record: CrossReRecord = serde_json::from_str(line).map_err(|e| {
        let msg = format!(
            "invalid CrossRE record: {} (column {})",
            json_message(&e),
            e.column()
        );
        parse_error(at, msg)
    })?;
    let doc = record
        .doc_key
        .as_ref()
        .map(|k| format!(" (doc_key {k})"))
        .unwrap_or_default();
    let n = record.sentence.len();
    let mut entities = Vec::with_capacity(record.ner.len());
    for (j, (start, end, ty)) in record.ner.iter().enumerate() {
        if start > end || *end >= n {
            let msg = format!(
                "ner entry {j} [{start}, {end}, \"{ty}\"] is not a span of the {n}-token sentence \
                 (end is inclusive){doc}"
            );
            return Err(parse_error(at, msg));
        }
        entities.push(Span::new(*start, end + 1, map_crossre_type(ty)));
    }
    let mut relations = Vec::with_capacity(record.relations.len());
    for (j, raw) in record.relations.iter().enumerate() {
        let Some((hs, he, ts, te, label)) = crossre_relation(raw) else {
            let msg = format!(
                "relation {j}: expected [head_start, head_end, tail_start, tail_end, label, ...], \
                 found {}{doc}",
                Value::Array(raw.clone())
            );
            return Err(parse_error(at, msg));
        };
        let find = |role: &str, start: usize, end_incl: usize| {
            entities
                .iter()
                .find(|e| e.start == start && e.end == end_incl + 1)
                .cloned()
                .ok_or_else(|| {
                    let msg = format!(
                        "relation {j} ({label}): {role} span [{start}, {end_incl}] is not among \
                         the sentence's ner entries{doc}"
                    );
                    parse_error(at, msg)
                })
        };
        relations.push(RelationTuple {
            head: find("head", hs, he)?,
            tail: find("tail", ts, te)?,
            label: label.to_owned(),
        });
    }
    Ok(GoldSentence {
        tokens: record.sentence,
        entities,
        relations,
    })
}

fn crossre_relation(raw: &[Value]) -> Option<(usize, usize, usize, usize, &str)> {
    let index = |i: usize| raw.get(i)?.as_u64().and_then(|v| usize::try_from(v).ok());
    Some((
        index(0)?,
        index(1)?,
        index(2)?,
        index(3)?,
        raw.get(4)?.as_str()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(start: usize, end: usize, label: &str) -> Span {
        Span::new(start, end, label)
    }

    fn parse_at(err: GoldError) -> (Location, String) {
        match err {
            GoldError::Parse {
                at, ref message, ..
            } => (at, message.clone()),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn conll2003_two_columns_and_docstart() {
        let text = "-DOCSTART- O\n\nMaria B-PER\nVance I-PER\nvisited O\nOslo B-LOC\n\n\
                    Quillby B-ORG\nB-PER-tagged O\n";
        let got = parse_conll2003(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].tokens, ["Maria", "Vance", "visited", "Oslo"]);
        assert_eq!(got[0].entities, [s(0, 2, "PER"), s(3, 4, "LOC")]);
        assert!(got[0].relations.is_empty());
        assert_eq!(got[1].tokens, ["Quillby", "B-PER-tagged"]);
        assert_eq!(got[1].entities, [s(0, 1, "ORG")]);
    }

    #[test]
    fn conll2003_four_columns_no_trailing_blank() {
        let text = "-DOCSTART- -X- -X- O\n\
                    The DT B-NP O\nBrindle NNP I-NP B-ORG\nCo NNP I-NP I-ORG\n\
                    fell VBD B-VP O\n\n\
                    Tomas NNP B-NP B-PER\nOkafor NNP I-NP B-PER";
        let got = parse_conll2003(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].tokens, ["The", "Brindle", "Co", "fell"]);
        assert_eq!(got[0].entities, [s(1, 3, "ORG")]);
        // Adjacent B-PER B-PER: two entities.
        assert_eq!(got[1].entities, [s(0, 1, "PER"), s(1, 2, "PER")]);
    }

    #[test]
    fn conll2003_empty_and_all_outside() {
        assert!(parse_conll2003("").unwrap().is_empty());
        assert!(parse_conll2003("\n\n-DOCSTART- O\n\n").unwrap().is_empty());
        let got = parse_conll2003("rain O\nfell O\r\n").unwrap();
        assert_eq!(got[0].tokens, ["rain", "fell"]);
        assert!(got[0].entities.is_empty());
    }

    #[test]
    fn conll2003_malformed() {
        let (at, msg) = parse_at(parse_conll2003("a O\nb O\n\nlonely\n").unwrap_err());
        assert_eq!(at, Location::Line(4));
        assert!(msg.contains("expected `TOKEN TAG`") && msg.contains("`lonely`"));
        let err = parse_conll2003("a O\nb X-PER\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: invalid tag `X-PER` (expected `O` or B-/I-/L-/E-/U-/S- followed by a type)"
        );
    }

    const CONLL04: &str = r#"[
      {"tokens": ["Ana", "Ruiz", "of", "Veltron", "Inc", "in", "Lisbon", "."],
       "tags": ["B-Peop", "L-Peop", "O", "B-Org", "L-Org", "O", "U-Loc", "O"],
       "relations": [{"head": 0, "tail": 1, "type": "Work_For"},
                     {"head": 1, "tail": 2, "type": "OrgBased_In"}],
       "orig_id": 17},
      {"tokens": ["Quiet", "day", "."], "tags": ["O", "O", "O"], "relations": []}
    ]"#;

    #[test]
    fn conll04_bilou_and_relation_indices() {
        let got = parse_conll04(CONLL04).unwrap();
        assert_eq!(got.len(), 2);
        let per = s(0, 2, "PER");
        let org = s(3, 5, "ORG");
        let loc = s(6, 7, "LOC");
        assert_eq!(got[0].entities, [per.clone(), org.clone(), loc.clone()]);
        assert_eq!(
            got[0].relations,
            [
                RelationTuple {
                    head: per,
                    tail: org.clone(),
                    label: "Work_For".into()
                },
                RelationTuple {
                    head: org,
                    tail: loc,
                    label: "OrgBased_In".into()
                },
            ]
        );
        assert!(got[1].entities.is_empty() && got[1].relations.is_empty());
    }

    #[test]
    fn conll04_type_mapping() {
        assert_eq!(map_conll04_type("Peop"), "PER");
        assert_eq!(map_conll04_type("Org"), "ORG");
        assert_eq!(map_conll04_type("Loc"), "LOC");
        assert_eq!(map_conll04_type("Other"), "MISC");
        assert_eq!(map_conll04_type("Weird"), "Weird");
    }

    #[test]
    fn conll04_errors() {
        let text = r#"[{"tokens": ["a"], "tags": ["O"]},
            {"tokens": ["Ed", "Lisbon"], "tags": ["U-Peop", "U-Loc"],
             "relations": [{"head": 0, "tail": 2, "type": "Live_In"}], "orig_id": "x9"}]"#;
        let (at, msg) = parse_at(parse_conll04(text).unwrap_err());
        assert_eq!(at, Location::Record(2));
        assert_eq!(
            msg,
            "relation 0: tail index 2 out of range, the sentence has 2 entities (orig_id \"x9\")"
        );

        let (at, msg) =
            parse_at(parse_conll04(r#"[{"tokens": ["a", "b"], "tags": ["O"]}]"#).unwrap_err());
        assert_eq!(
            (at, msg.as_str()),
            (Location::Record(1), "2 tokens but 1 tags")
        );

        let (at, msg) =
            parse_at(parse_conll04(r#"[{"tokens": ["a"], "tags": ["Q-Loc"]}]"#).unwrap_err());
        assert_eq!(at, Location::Record(1));
        assert!(msg.starts_with("invalid tag `Q-Loc`"));

        let (at, msg) = parse_at(parse_conll04("[\n{\"tokens\": [\"a\"]}\n]").unwrap_err());
        assert_eq!(at, Location::Line(2));
        assert!(msg.contains("missing field `tags`"), "{msg}");

        let (at, _) = parse_at(parse_conll04("[\n{\"tokens\": [\"a\"],\n  oops}]").unwrap_err());
        assert_eq!(at, Location::Line(3));
    }

    const CROSSRE: &str = r#"{"doc_key": "t-1", "sentence": ["The", "Green", "Union", "met", "in", "Nordvik", "."], "ner": [[1, 2, "politicalparty"], [5, 5, "country"]], "relations": [[1, 2, 5, 5, "physical", "", false, false]]}

{"doc_key": "t-2", "sentence": ["Lena", "Hart", "joined", "Orvex", "Labs"], "ner": [[0, 1, "person"], [3, 4, "organisation"]], "relations": [[0, 1, 3, 4, "role", "works at", true, false]]}
"#;

    #[test]
    fn crossre_inclusive_ends_and_types() {
        let got = parse_crossre(CROSSRE).unwrap();
        assert_eq!(got.len(), 2);
        let party = s(1, 3, "politicalparty");
        let place = s(5, 6, "LOC");
        assert_eq!(got[0].tokens.len(), 7);
        assert_eq!(got[0].entities, [party.clone(), place.clone()]);
        assert_eq!(
            got[0].relations,
            [RelationTuple {
                head: party,
                tail: place,
                label: "physical".into()
            }]
        );
        assert_eq!(got[1].entities, [s(0, 2, "PER"), s(3, 5, "ORG")]);
        assert_eq!(got[1].relations[0].head, s(0, 2, "PER"));
        assert_eq!(got[1].relations[0].label, "role");
    }

    #[test]
    fn crossre_type_mapping() {
        assert_eq!(map_crossre_type("person"), "PER");
        assert_eq!(map_crossre_type("organisation"), "ORG");
        assert_eq!(map_crossre_type("location"), "LOC");
        assert_eq!(map_crossre_type("country"), "LOC");
        assert_eq!(map_crossre_type("misc"), "MISC");
        assert_eq!(map_crossre_type("event"), "event");
    }

    #[test]
    fn crossre_errors() {
        // The argument [0, 0] is not a ner span ([0, 1] is): an error on line 3, not a skip.
        let text = "\n\n{\"doc_key\": \"d\", \"sentence\": [\"Lena\", \"Hart\", \"ran\"], \
                    \"ner\": [[0, 1, \"person\"]], \"relations\": [[0, 0, 0, 1, \"self\"]]}\n";
        let err = parse_crossre(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: relation 0 (self): head span [0, 0] is not among the sentence's ner \
             entries (doc_key d)"
        );

        let text = "{\"sentence\": [\"a\", \"b\"], \"ner\": [[1, 2, \"misc\"]]}";
        let (at, msg) = parse_at(parse_crossre(text).unwrap_err());
        assert_eq!(at, Location::Line(1));
        assert!(
            msg.starts_with("ner entry 0 [1, 2, \"misc\"] is not a span"),
            "{msg}"
        );

        let text =
            "{\"sentence\": [\"a\"], \"ner\": [[0, 0, \"misc\"]], \"relations\": [[0, 0, 0]]}";
        let (_, msg) = parse_at(parse_crossre(text).unwrap_err());
        assert!(msg.starts_with("relation 0: expected [head_start"), "{msg}");

        let text = "{\"sentence\": [\"a\"]}\n{\"sentence\": [\"a\"], \"ner\": [[0, \"x\"]]}";
        let (at, msg) = parse_at(parse_crossre(text).unwrap_err());
        assert_eq!(at, Location::Line(2));
        assert!(msg.starts_with("invalid CrossRE record: "), "{msg}");
    }

    #[test]
    fn format_names() {
        for format in [
            GoldFormat::Conll2003,
            GoldFormat::Conll04,
            GoldFormat::CrossRe,
        ] {
            assert_eq!(format.to_string().parse::<GoldFormat>().unwrap(), format);
        }
        assert_eq!(
            "CrossRE".parse::<GoldFormat>().unwrap(),
            GoldFormat::CrossRe
        );
        let err = "conll".parse::<GoldFormat>().unwrap_err();
        assert!(matches!(err, GoldError::UnknownFormat { ref name } if name == "conll"));
    }

    #[test]
    fn read_gold_from_file() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("erx-eval-gold-{}.conll", std::process::id()));
        std::fs::write(&path, "Oslo B-LOC\n\nbad\n").unwrap();
        let result = read_gold(&path, GoldFormat::Conll2003);
        std::fs::remove_file(&path).unwrap();
        let err = result.unwrap_err();
        assert!(
            matches!(err, GoldError::Parse { path: Some(ref p), at: Location::Line(3), .. } if *p == path)
        );
        assert!(err
            .to_string()
            .starts_with(&format!("{}: line 3: ", path.display())));

        let missing = dir.join(format!("erx-eval-missing-{}.jsonl", std::process::id()));
        let err = read_gold(&missing, GoldFormat::CrossRe).unwrap_err();
        assert!(matches!(err, GoldError::Io { ref path, .. } if *path == missing));
    }
}

//! `erx eval`: run the full pipeline on gold sentences and score it strictly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use erx::eval::{read_gold, GoldFormat, GoldSentence, RelationTuple, Scorer, Scores, Span};

use super::{display, ModelArgs};

pub const AFTER_HELP: &str =
    "Each gold sentence is joined with single spaces and run through the whole pipeline as
one line (one sentence, never split further); with --context N, N consecutive sentences
form one text, one per line, and share model windows as an article's sentences do.
As in `erx extract`, mentions of one name in a text share one label unless
--sentence-labels is given. Predicted mentions are mapped back to the gold tokens they cover. Entities: strict span + type match, conlleval semantics, micro and per type.
Relations (conll04, crossre): both argument spans and types and the label must match;
only labels of the format's own schema are scored.

CoNLL04 types are mapped to the CoNLL-2003 scheme (Peop→PER, Org→ORG, Loc→LOC,
Other→MISC); CrossRE's person/organisation/location/country/misc likewise.

erx-news (the news corpus in data/news/, see docs/annotation.md): each article is read
whole, as `erx extract` reads it; entities are scored on exact code-point spans (names
and values apart), relations on ordered pairs of mention spans, on pairs plus label
(CoNLL04 labels map one to one onto news labels; other schemas count as wrong labels),
and phrases by token F1 on the pairs found.

Examples:
  erx eval --format conll2003 conll2003/dev.txt
  erx eval --format conll2003 conll2003/dev.txt --context 8
  erx eval --format conll04 conll04/dev.json --json > scores.json
  erx eval --format erx-news data/news/dev.jsonl --dump bbc-news.jsonl";

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Gold file format.
    #[arg(long, value_parser = ["conll2003", "conll04", "crossre", "erx-news"])]
    format: String,
    /// erx-news only: the article dump the corpus was annotated on (its records hold
    /// offsets, not text; each text is checked against the corpus's sha256).
    #[arg(long, value_name = "FILE", default_value_os_t = erx::eval::news::default_dump())]
    dump: PathBuf,
    /// Gold file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Score only the first N sentences.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Feed N consecutive gold sentences as one text, one sentence per line, so each is
    /// read beside its neighbours as on an article (windows are packed the same way).
    /// 1 reads every sentence alone. conll2003 only: relations are kept once per entity
    /// pair in a text, so relation formats are scored one sentence at a time.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    context: u16,
    #[command(flatten)]
    model: ModelArgs,
}

/// Code points of a gold sentence joined with single spaces.
fn sentence_chars(sentence: &GoldSentence) -> usize {
    sentence
        .tokens
        .iter()
        .map(|t| t.chars().count())
        .sum::<usize>()
        + sentence.tokens.len().saturating_sub(1)
}

/// Maps a predicted mention's code-point range to the gold tokens it covers.
fn token_span(starts: &[usize], start: usize, end: usize) -> (usize, usize) {
    let first = starts.partition_point(|&s| s <= start).saturating_sub(1);
    let last = starts.partition_point(|&s| s < end).saturating_sub(1);
    (first, last.max(first) + 1)
}

/// Predicted entity spans and relation tuples of one sentence, over its gold tokens.
/// The sentence starts at code point `offset` of the document's text; mentions outside
/// `offset..offset + length` belong to other sentences and are skipped.
pub fn predicted(
    sentence: &GoldSentence,
    offset: usize,
    doc: &erx::Document,
    schema: Option<&str>,
) -> (Vec<Span>, Vec<RelationTuple>) {
    let mut starts = Vec::with_capacity(sentence.tokens.len());
    let mut pos = offset;
    for t in &sentence.tokens {
        starts.push(pos);
        pos += t.chars().count() + 1;
    }
    let inside = |m: &erx::Mention| m.start >= offset && m.end < pos;
    let span = |label: &str, m: &erx::Mention| {
        let (s, e) = token_span(&starts, m.start, m.end);
        Span::new(s, e, label)
    };
    let mut entities: Vec<Span> = doc
        .entities
        .iter()
        // values (dates, amounts) are not in these gold sets' entity schemes
        .filter(|e| !erx::eval::news::VALUE_LABELS.contains(&e.label.as_str()))
        .flat_map(|e| {
            e.mentions
                .iter()
                .filter(|m| inside(m))
                .map(|m| span(&e.label, m))
        })
        .collect();
    let mut relations = Vec::new();
    if let Some(schema) = schema {
        // a news-schema model is scored on CoNLL04 through the one-to-one label mapping
        let label_in_schema = |r: &erx::Relation| -> Option<String> {
            if r.schema == schema {
                Some(r.label.clone())
            } else if schema == "conll04" && r.schema == "news" {
                erx::eval::news::conll04_label(&r.label).map(str::to_owned)
            } else {
                None
            }
        };
        for (r, label) in doc
            .relations
            .iter()
            .filter_map(|r| label_in_schema(r).map(|l| (r, l)))
        {
            let find = |id: &str, k: usize| {
                doc.entities.iter().find(|e| e.id == id).and_then(|e| {
                    e.mentions
                        .get(k)
                        .filter(|m| inside(m))
                        .map(|m| span(&e.label, m))
                })
            };
            if let (Some(head), Some(tail)) =
                (find(&r.head, r.head_mention), find(&r.tail, r.tail_mention))
            {
                relations.push(RelationTuple { head, tail, label });
            }
        }
    }
    // Two mentions inside one gold token ("R-Utah" read as "R" and "Utah") project onto the
    // same gold span: at gold granularity they are one prediction, not one right and one wrong.
    entities.sort_unstable();
    entities.dedup();
    relations.sort_unstable();
    relations.dedup();
    (entities, relations)
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    if args.format == "erx-news" {
        return run_news(args);
    }
    let format: GoldFormat = args.format.parse()?;
    let mut gold = read_gold(&args.file, format)
        .with_context(|| format!("cannot read gold data {}", display(&args.file)))?;
    if let Some(n) = args.limit {
        gold.truncate(n);
    }
    let schema = match format {
        GoldFormat::Conll2003 => None,
        GoldFormat::Conll04 => Some("conll04"),
        GoldFormat::CrossRe => Some("crossre"),
    };
    let options = erx::Options {
        sentences: erx::Sentences::Lines,
        ..args.model.options()?
    };
    let context = usize::from(args.context);
    if context > 1 && schema.is_some() {
        anyhow::bail!(
            "--context applies to --format conll2003 only: erx keeps one relation per entity \
             pair and label in a text, so packing {} sentences together would merge their \
             relations. fix: drop --context for relation scoring",
            args.format
        );
    }
    let extractor = args.model.load(options)?;
    let start = Instant::now();
    let mut entity_scorer: Scorer<Span> = Scorer::new();
    let mut relation_scorer: Scorer<RelationTuple> = Scorer::new();
    for chunk in gold.chunks(256 * context) {
        let groups: Vec<&[GoldSentence]> = chunk.chunks(context).collect();
        let texts: Vec<String> = groups
            .iter()
            .map(|g| {
                let lines: Vec<String> = g.iter().map(|s| s.tokens.join(" ")).collect();
                lines.join("\n")
            })
            .collect();
        let docs = extractor
            .extract_batch(&texts)
            .context("extraction failed")?;
        for (group, doc) in groups.iter().zip(&docs) {
            let mut offset = 0;
            for sentence in *group {
                let (entities, relations) = predicted(sentence, offset, doc, schema);
                entity_scorer.add(&sentence.entities, &entities);
                if schema.is_some() {
                    relation_scorer.add(&sentence.relations, &relations);
                }
                offset += sentence_chars(sentence) + 1;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let entities = entity_scorer.scores();
    let relations = schema.map(|_| relation_scorer.scores());
    if args.json {
        let scores = serde_json::json!({
            "sentences": gold.len(),
            "context": context,
            "entities": entities,
            "relations": relations,
        });
        print_json(&args, &extractor, seconds, scores)?;
    } else {
        print_header(
            &args,
            &extractor,
            &format!("{} sentences", gold.len()),
            seconds,
        );
        print_table("entities", &entities);
        if let Some(r) = &relations {
            print_table("relations", r);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `erx eval --format erx-news`: whole articles against the news corpus.
fn run_news(args: EvalArgs) -> Result<ExitCode> {
    use erx::eval::news::{predictions, read_news, NewsScorer};
    if args.context != 1 {
        anyhow::bail!("--context does not apply to erx-news: articles are read whole");
    }
    let mut gold = read_news(&args.file, &args.dump).with_context(|| {
        format!(
            "cannot read the news corpus {} (with dump {})",
            display(&args.file),
            display(&args.dump)
        )
    })?;
    if let Some(n) = args.limit {
        gold.truncate(n);
    }
    let extractor = args.model.load(args.model.options()?)?;
    let start = Instant::now();
    let mut scorer = NewsScorer::new();
    for chunk in gold.chunks(64) {
        let texts: Vec<&str> = chunk.iter().map(|a| a.text.as_str()).collect();
        let docs = extractor
            .extract_batch(&texts)
            .context("extraction failed")?;
        for (article, doc) in chunk.iter().zip(&docs) {
            let (entities, relations) = predictions(doc);
            scorer.add(article, &entities, &relations);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let scores = scorer.scores();
    if args.json {
        let scores = serde_json::json!({"articles": gold.len(), "scores": scores});
        print_json(&args, &extractor, seconds, scores)?;
    } else {
        print_header(
            &args,
            &extractor,
            &format!("{} articles", gold.len()),
            seconds,
        );
        print_table("entities: names", &scores.names);
        print_table("entities: values", &scores.values);
        print_table("relations: pair+label", &scores.labelled);
        let p = scores.pairs;
        println!(
            "\nrelations, ordered pairs: precision {:.4} recall {:.4} F1 {:.4} (tp {}, fp {}, fn {})",
            p.precision, p.recall, p.f1, p.tp, p.fp, p.fn_
        );
        println!(
            "phrase token F1 on correct pairs: {:.4} ({} pairs)",
            scores.phrase_f1, scores.phrase_pairs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON report: what was run, then `fields` (the scores and their counts).
fn print_json(
    args: &EvalArgs,
    extractor: &erx::Extractor,
    seconds: f64,
    fields: serde_json::Value,
) -> Result<()> {
    let mut v = serde_json::json!({
        "format": args.format,
        "file": display(&args.file),
        "model": extractor.card().name,
        "provider": extractor.provider(),
        "seconds": seconds,
    });
    if let (Some(out), serde_json::Value::Object(extra)) = (v.as_object_mut(), fields) {
        out.extend(extra);
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// The first line of the table report.
fn print_header(args: &EvalArgs, extractor: &erx::Extractor, what: &str, seconds: f64) {
    println!(
        "{} on {} ({what}, {seconds:.1}s, {})",
        extractor.card().name,
        display(&args.file),
        extractor.provider()
    );
}

fn print_table(title: &str, scores: &Scores) {
    println!(
        "\n{title:<22} {:>9} {:>9} {:>9} {:>6} {:>6} {:>6}",
        "precision", "recall", "F1", "tp", "fp", "fn"
    );
    let row = |name: &str, p: &erx::eval::Prf| {
        println!(
            "  {name:<20} {:>9.4} {:>9.4} {:>9.4} {:>6} {:>6} {:>6}",
            p.precision, p.recall, p.f1, p.tp, p.fp, p.fn_
        );
    };
    for (label, p) in &scores.per_label {
        row(label, p);
    }
    row("micro", &scores.micro);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_spans_cover_partial_tokens() {
        // "Kim Jong-nam visited" → tokens at 0, 4, 13
        let starts = [0, 4, 13];
        assert_eq!(token_span(&starts, 0, 12), (0, 2));
        assert_eq!(token_span(&starts, 4, 8), (1, 2));
        assert_eq!(token_span(&starts, 13, 20), (2, 3));
    }

    fn mention(start: usize, end: usize, text: &str) -> erx::Mention {
        erx::Mention {
            start,
            end,
            text: text.to_string(),
            score: 1.0,
        }
    }

    #[test]
    fn mentions_of_a_packed_text_go_to_their_own_sentence() {
        // "Kim met Choe\nChoe left Geneva": sentence 2 starts at code point 13
        let gold = |tokens: &[&str]| GoldSentence {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            entities: Vec::new(),
            relations: Vec::new(),
        };
        let first = gold(&["Kim", "met", "Choe"]);
        let second = gold(&["Choe", "left", "Geneva"]);
        let doc = erx::Document {
            id: None,
            entities: vec![
                erx::Entity {
                    id: "e0".into(),
                    label: "PER".into(),
                    text: "Choe".into(),
                    score: 1.0,
                    mentions: vec![mention(8, 12, "Choe"), mention(13, 17, "Choe")],
                },
                erx::Entity {
                    id: "e1".into(),
                    label: "LOC".into(),
                    text: "Geneva".into(),
                    score: 1.0,
                    mentions: vec![mention(23, 29, "Geneva")],
                },
            ],
            relations: Vec::new(),
            meta: erx::Meta::default(),
        };
        assert_eq!(sentence_chars(&first), 12);
        let (a, _) = predicted(&first, 0, &doc, None);
        assert_eq!(a, vec![Span::new(2, 3, "PER")]);
        let (b, _) = predicted(&second, 13, &doc, None);
        assert_eq!(b, vec![Span::new(0, 1, "PER"), Span::new(2, 3, "LOC")]);
    }

    #[test]
    fn mentions_inside_one_gold_token_count_once() {
        // "Garn , R-Utah": erx reads "R" and "Utah" as two places, both inside gold token 2,
        // and links Garn to each
        let sentence = GoldSentence {
            tokens: ["Garn", ",", "R-Utah"]
                .iter()
                .map(|t| t.to_string())
                .collect(),
            entities: Vec::new(),
            relations: Vec::new(),
        };
        let entity = |id: &str, label: &str, mentions| erx::Entity {
            id: id.into(),
            label: label.into(),
            text: String::new(),
            score: 1.0,
            mentions,
        };
        let lives_in = |tail: &str| erx::Relation {
            head: "e0".into(),
            tail: tail.into(),
            head_mention: 0,
            tail_mention: 0,
            label: "lives_in".into(),
            schema: "news".into(),
            phrase: String::new(),
            score: 0.9,
            start: 0,
            end: 13,
            phrase_start: None,
            phrase_end: None,
            negated: false,
        };
        let doc = erx::Document {
            id: None,
            entities: vec![
                entity("e0", "PER", vec![mention(0, 4, "Garn")]),
                entity("e1", "LOC", vec![mention(7, 8, "R")]),
                entity("e2", "LOC", vec![mention(9, 13, "Utah")]),
            ],
            relations: vec![lives_in("e1"), lives_in("e2")],
            meta: erx::Meta::default(),
        };
        let (entities, relations) = predicted(&sentence, 0, &doc, Some("conll04"));
        assert_eq!(
            entities,
            vec![Span::new(0, 1, "PER"), Span::new(2, 3, "LOC")]
        );
        assert_eq!(
            relations,
            vec![RelationTuple {
                head: Span::new(0, 1, "PER"),
                tail: Span::new(2, 3, "LOC"),
                label: "Live_In".into(),
            }]
        );
    }
}

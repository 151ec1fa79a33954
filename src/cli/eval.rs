//! `erx eval`: run the full pipeline on gold sentences and score it strictly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use erx::eval::{read_gold, GoldFormat, GoldSentence, RelationTuple, Scorer, Scores, Span};

use super::{display, ModelArgs};

pub const AFTER_HELP: &str =
    "Each gold sentence is joined with single spaces and run through the whole pipeline
(without sentence splitting); predicted mentions are mapped back to the gold tokens they
cover. Entities: strict span + type match, conlleval semantics, micro and per type.
Relations (conll04, crossre): both argument spans and types and the label must match;
only labels of the format's own schema are scored.

CoNLL04 types are mapped to the CoNLL-2003 scheme (Peop→PER, Org→ORG, Loc→LOC,
Other→MISC); CrossRE's person/organisation/location/country/misc likewise.

Examples:
  erx eval --format conll2003 conll2003/dev.txt
  erx eval --format conll04 conll04/dev.json --json > scores.json";

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Gold file format.
    #[arg(long, value_parser = ["conll2003", "conll04", "crossre"])]
    format: String,
    /// Gold file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Score only the first N sentences.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
}

/// Maps a predicted mention's code-point range to the gold tokens it covers.
fn token_span(starts: &[usize], start: usize, end: usize) -> (usize, usize) {
    let first = starts.partition_point(|&s| s <= start).saturating_sub(1);
    let last = starts.partition_point(|&s| s < end).saturating_sub(1);
    (first, last.max(first) + 1)
}

/// Predicted entity spans and relation tuples of one sentence, over its gold tokens.
pub fn predicted(
    sentence: &GoldSentence,
    doc: &erx::Document,
    schema: Option<&str>,
) -> (Vec<Span>, Vec<RelationTuple>) {
    let mut starts = Vec::with_capacity(sentence.tokens.len());
    let mut pos = 0;
    for t in &sentence.tokens {
        starts.push(pos);
        pos += t.chars().count() + 1;
    }
    let span = |label: &str, m: &erx::Mention| {
        let (s, e) = token_span(&starts, m.start, m.end);
        Span::new(s, e, label)
    };
    let entities = doc
        .entities
        .iter()
        .flat_map(|e| e.mentions.iter().map(|m| span(&e.label, m)))
        .collect();
    let mut relations = Vec::new();
    if let Some(schema) = schema {
        for r in doc.relations.iter().filter(|r| r.schema == schema) {
            let find = |id: &str, k: usize| {
                doc.entities
                    .iter()
                    .find(|e| e.id == id)
                    .and_then(|e| e.mentions.get(k).map(|m| span(&e.label, m)))
            };
            if let (Some(head), Some(tail)) =
                (find(&r.head, r.head_mention), find(&r.tail, r.tail_mention))
            {
                relations.push(RelationTuple {
                    head,
                    tail,
                    label: r.label.clone(),
                });
            }
        }
    }
    (entities, relations)
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
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
        split_sentences: false,
        ..args.model.options()?
    };
    let extractor = args.model.load(options)?;
    let start = Instant::now();
    let mut entity_scorer: Scorer<Span> = Scorer::new();
    let mut relation_scorer: Scorer<RelationTuple> = Scorer::new();
    for chunk in gold.chunks(256) {
        let texts: Vec<String> = chunk.iter().map(|s| s.tokens.join(" ")).collect();
        let docs = extractor
            .extract_batch(&texts)
            .context("extraction failed")?;
        for (sentence, doc) in chunk.iter().zip(&docs) {
            let (entities, relations) = predicted(sentence, doc, schema);
            entity_scorer.add(&sentence.entities, &entities);
            if schema.is_some() {
                relation_scorer.add(&sentence.relations, &relations);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let entities = entity_scorer.scores();
    let relations = schema.map(|_| relation_scorer.scores());
    if args.json {
        let v = serde_json::json!({
            "format": args.format,
            "file": display(&args.file),
            "model": extractor.card().name,
            "provider": extractor.provider(),
            "sentences": gold.len(),
            "seconds": seconds,
            "entities": entities,
            "relations": relations,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} on {} ({} sentences, {:.1}s, {})",
            extractor.card().name,
            display(&args.file),
            gold.len(),
            seconds,
            extractor.provider()
        );
        print_table("entities", &entities);
        if let Some(r) = &relations {
            print_table("relations", r);
        }
    }
    Ok(ExitCode::SUCCESS)
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
}

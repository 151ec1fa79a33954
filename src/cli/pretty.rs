//! The readable view of `erx extract --pretty`.

use std::io::Write;

use anyhow::Result;

/// Writes entities and relations of `doc` as aligned text.
pub fn print(out: &mut dyn Write, _text: &str, doc: &erx::Document) -> Result<()> {
    if let Some(id) = &doc.id {
        writeln!(out, "── {id}")?;
    }
    writeln!(out, "entities ({}):", doc.entities.len())?;
    let width = doc
        .entities
        .iter()
        .map(|e| e.text.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for e in &doc.entities {
        let spans: Vec<String> = e
            .mentions
            .iter()
            .map(|m| format!("{}..{}", m.start, m.end))
            .collect();
        writeln!(
            out,
            "  {:<4} {:<5} {:<width$}  {:.2}  ×{}  [{}]",
            e.id,
            e.label,
            e.text,
            e.score,
            e.mentions.len(),
            spans.join(" "),
        )?;
    }
    writeln!(out, "relations ({}):", doc.relations.len())?;
    let name = |id: &str| {
        doc.entities
            .iter()
            .find(|e| e.id == id)
            .map_or(id.to_string(), |e| e.text.clone())
    };
    for r in &doc.relations {
        writeln!(
            out,
            "  {} —[{}]→ {}   {}/{}{} {:.2}",
            name(&r.head),
            if r.phrase.is_empty() { "·" } else { &r.phrase },
            name(&r.tail),
            r.schema,
            r.label,
            if r.negated { " (negated)" } else { "" },
            r.score
        )?;
    }
    let m = &doc.meta;
    writeln!(
        out,
        "({} sentences, {} tokens, {} windows, {} on {})",
        m.sentences, m.tokens, m.windows, m.model, m.provider
    )?;
    Ok(())
}

//! Golden test: the shipped model on the article that motivated the project.

mod common;

use common::{assert_offsets_match, real_model};

fn seed_document() -> (String, erx::Document) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/seed-article.txt");
    let text = std::fs::read_to_string(path).expect("read the seed article");
    let x = erx::Extractor::load(real_model(), erx::Options::default())
        .expect("load models/erx-news-v2");
    let doc = x.extract(&text).expect("extract");
    (text, doc)
}

fn has(doc: &erx::Document, label: &str, name: &str) -> bool {
    doc.entities
        .iter()
        .any(|e| e.label == label && e.mentions.iter().any(|m| m.text.contains(name)))
}

#[test]
fn seed_article_people_and_organisations() {
    let (text, doc) = seed_document();
    assert!(has(&doc, "PER", "Choe Son Hui"), "Choe Son Hui as PER");
    assert!(has(&doc, "PER", "Kim Jong-nam"), "Kim Jong-nam as PER");
    assert!(
        has(&doc, "ORG", "State Department"),
        "State Department as ORG"
    );
    assert_offsets_match(&text, &doc);
    assert!(!doc.meta.truncated);
}

#[test]
fn seed_article_relations_have_real_phrases() {
    let (text, doc) = seed_document();
    assert!(!doc.relations.is_empty(), "relations on the seed article");
    let ids: Vec<&str> = doc.entities.iter().map(|e| e.id.as_str()).collect();
    for r in &doc.relations {
        assert!(ids.contains(&r.head.as_str()) && ids.contains(&r.tail.as_str()));
        assert_ne!(r.head, r.tail);
        assert!(!r.phrase.trim().is_empty());
        assert!((0.0..=1.0).contains(&r.score));
    }
    assert_offsets_match(&text, &doc);
}

/// `head —[phrase]→ tail` for every relation of `schema`, by entity names.
fn links(doc: &erx::Document, schema: &str) -> Vec<String> {
    let name = |id: &str| {
        doc.entities
            .iter()
            .find(|e| e.id == id)
            .map_or(String::new(), |e| e.text.clone())
    };
    doc.relations
        .iter()
        .filter(|r| r.schema == schema)
        .map(|r| format!("{} —[{}]→ {}", name(&r.head), r.phrase, name(&r.tail)))
        .collect()
}

#[test]
fn seed_article_open_links_read_subject_predicate_object() {
    let (_, doc) = seed_document();
    let open = links(&doc, "open");
    for want in [
        "North Korean —[assassinated]→ Kim Jong-nam",
        "North Korean —[visited]→ United States",
    ] {
        assert!(open.iter().any(|l| l == want), "{want} in {open:#?}");
    }
    let x = erx::Extractor::load(
        real_model(),
        erx::Options {
            open_relations: false,
            ..erx::Options::default()
        },
    )
    .expect("load");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/seed-article.txt"),
    )
    .expect("read the seed article");
    let typed_only = x.extract(&text).expect("extract");
    assert!(links(&typed_only, "open").is_empty());
    assert_eq!(
        typed_only.relations.len() + open.len(),
        doc.relations.len(),
        "open links come on top of the typed relations"
    );
}

#[test]
fn short_forms_merge_into_one_entity() {
    let (_, doc) = seed_document();
    let choe: Vec<&erx::Entity> = doc
        .entities
        .iter()
        .filter(|e| e.text.contains("Choe"))
        .collect();
    assert_eq!(
        choe.len(),
        1,
        "one entity for Choe Son Hui and its short forms: {choe:?}"
    );
    assert!(choe[0].mentions.len() >= 2);
}

#[test]
fn results_do_not_depend_on_batch_mates() {
    // int8 activation scales are per forward pass; one window per pass keeps a
    // document's output independent of the other documents in the call
    let (text, alone) = seed_document();
    let x = erx::Extractor::load(real_model(), erx::Options::default()).expect("load");
    let others = [
        "Kim Jong-nam was killed at Kuala Lumpur airport in February.",
        "Apple Inc. hired Tim Cook.",
    ];
    let batch = x
        .extract_batch(&[others[0], text.as_str(), others[1]])
        .expect("batch");
    assert_eq!(batch[1], alone);
}

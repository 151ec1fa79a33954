//! Golden test: the shipped model on the article that motivated the project.

mod common;

use common::{assert_offsets_match, real_model};

fn seed_document() -> (String, erx::Document) {
    seed_document_with(&real_model())
}

fn seed_document_with(model: &std::path::Path) -> (String, erx::Document) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/seed-article.txt");
    let text = std::fs::read_to_string(path).expect("read the seed article");
    let x = erx::Extractor::load(model, erx::Options::default())
        .unwrap_or_else(|e| panic!("load {}: {e}", model.display()));
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

const NEWS_LABELS: [&str; 12] = [
    "works_for",
    "lives_in",
    "based_in",
    "located_in",
    "killed",
    "part_of",
    "owns",
    "family",
    "social",
    "affiliation",
    "met",
    "action",
];

const VALUE_LABELS: [&str; 7] = [
    "DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL",
];

#[test]
fn seed_article_relations_are_news_relations_between_names_once_per_pair() {
    let (text, doc) = seed_document();
    assert_news_relations_once_per_pair(&text, &doc);
}

#[test]
fn fast_model_reads_the_seed_article() {
    // 3 encoder layers with 768-wide FFNs and 4-bit embedding tables (GatherBlockQuantized):
    // the runtime must run the graph, and the smaller model must still read the article's
    // main actors
    let fast = real_model().with_file_name("erx-news-v2-fast");
    let (text, doc) = seed_document_with(&fast);
    assert_eq!(doc.meta.model, "erx-news-v2-fast");
    assert!(has(&doc, "PER", "Choe Son Hui"), "Choe Son Hui as PER");
    assert!(
        has(&doc, "ORG", "State Department"),
        "State Department as ORG"
    );
    assert_news_relations_once_per_pair(&text, &doc);
}

fn assert_news_relations_once_per_pair(text: &str, doc: &erx::Document) {
    assert!(!doc.relations.is_empty(), "relations on the seed article");
    let mut pairs = std::collections::HashSet::new();
    for r in &doc.relations {
        assert_eq!(r.schema, "news");
        assert!(NEWS_LABELS.contains(&r.label.as_str()), "{r:?}");
        assert!(
            pairs.insert((&r.head, &r.tail)),
            "pair printed twice: {r:?}"
        );
        assert_ne!(r.head, r.tail);
        for end in [&r.head, &r.tail] {
            let e = doc.entities.iter().find(|e| &e.id == end).expect("entity");
            assert!(
                !VALUE_LABELS.contains(&e.label.as_str()),
                "a value in {r:?}"
            );
        }
        assert_eq!(r.negated, erx::document::phrase_is_negated(&r.phrase));
        assert!((0.0..=1.0).contains(&r.score));
    }
    assert_offsets_match(text, doc);
}

#[test]
fn seed_article_values_are_read_and_stand_alone() {
    let (_, doc) = seed_document();
    for (label, text) in [
        ("DATE", "12 February"),
        ("DATE", "13 February"),
        ("DATE", "1 and 2 March"),
    ] {
        assert!(has(&doc, label, text), "{text} as {label}");
    }
    let firsts = doc
        .entities
        .iter()
        .filter(|e| e.label == "ORDINAL" && e.text == "first")
        .count();
    assert!(
        firsts >= 2,
        "each \"first\" is a value of its own, not merged"
    );
    for e in doc
        .entities
        .iter()
        .filter(|e| VALUE_LABELS.contains(&e.label.as_str()))
    {
        assert_eq!(e.mentions.len(), 1, "values are never merged: {e:?}");
    }
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

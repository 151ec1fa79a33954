//! Library behaviour on the fixture model: schema invariants, windowing, concurrency.

mod common;

use std::sync::Arc;

use common::*;
use erx::tokenize::SentenceTokenizer;
use erx::{text, window};

#[test]
fn extract_returns_valid_offsets_and_meta() {
    let x = fixture_extractor();
    let text =
        "The State Department denied a visa to Choe Son Hui. Kim Jong-nam was killed in Malaysia.";
    let doc = x.extract(text).expect("extract");
    assert_eq!(doc.meta.model, "erx-fixture");
    assert_eq!(doc.meta.sentences, 2);
    assert!(!doc.meta.truncated);
    assert_eq!(doc.meta.provider, "cpu");
    assert!(
        !doc.entities.is_empty(),
        "the fixture's random weights still tag some words"
    );
    assert_offsets_match(text, &doc);
    for (i, e) in doc.entities.iter().enumerate() {
        assert_eq!(e.id, format!("e{i}"));
        assert!(["PER", "ORG", "LOC", "MISC"].contains(&e.label.as_str()));
    }
}

#[test]
fn empty_and_whitespace_texts_give_empty_documents() {
    let x = fixture_extractor();
    for t in ["", "   \n\t "] {
        let doc = x.extract(t).expect("extract");
        assert!(doc.entities.is_empty() && doc.relations.is_empty());
        assert_eq!(doc.meta.sentences, 0);
    }
}

#[test]
fn batch_equals_one_by_one_and_keeps_order() {
    let x = fixture_extractor();
    let texts = [
        "Choe Son Hui met Kim Jong-nam.",
        "",
        "Émile Zola lived in Paris. 北京 is far.",
        "The North Korea news report said so.",
    ];
    let batch = x.extract_batch(&texts).expect("batch");
    assert_eq!(batch.len(), texts.len());
    for (t, d) in texts.iter().zip(&batch) {
        let single = x.extract(t).expect("single");
        assert_eq!(&single.entities, &d.entities, "text {t:?}");
        assert_eq!(single.relations.len(), d.relations.len());
    }
}

#[test]
fn every_character_of_a_100k_document_is_in_some_window() {
    let text = long_text(100_000);
    assert!(text.chars().count() >= 100_000);
    let tok = SentenceTokenizer::from_file(&fixture_model().join("tokenizer.json"), true)
        .expect("tokenizer");
    let sentences = text::split_sentences(&text);
    let tokenized = tok.tokenize(&text, &sentences).expect("tokenize");
    let lengths: Vec<usize> = tokenized.iter().map(|s| s.len()).collect();
    let starts: Vec<Vec<usize>> = tokenized
        .iter()
        .map(|s| s.words.iter().map(|w| w.first_token).collect())
        .collect();
    // the fixture's windows hold 30 pieces: long sentences must be chunked
    let windows = window::pack(&lengths, &starts, 30, 8);
    let mut covered = vec![false; text.len()];
    for w in &windows {
        assert!(w.len() <= 30);
        for seg in &w.segments {
            for r in &tokenized[seg.sentence].offsets[seg.tokens.clone()] {
                covered[r.clone()].iter_mut().for_each(|c| *c = true);
            }
        }
    }
    for (i, c) in text.char_indices() {
        if !c.is_whitespace() {
            assert!(covered[i], "char {c:?} at byte {i} is in no window");
        }
    }
    // and the whole pipeline handles it: nothing truncated, offsets exact
    let doc = fixture_extractor().extract(&text).expect("extract");
    assert!(!doc.meta.truncated);
    assert!(doc.meta.windows > 100);
    assert_offsets_match(&text, &doc);
}

#[test]
fn over_long_sentence_without_punctuation_is_chunked_not_cut() {
    let x = fixture_extractor();
    let text = "word ".repeat(400) + "Choe Son Hui";
    let doc = x.extract(&text).expect("extract");
    assert_eq!(doc.meta.sentences, 1);
    assert!(
        doc.meta.windows >= 13,
        "400+ words in 30-piece windows: {}",
        doc.meta.windows
    );
    assert_offsets_match(&text, &doc);
}

#[test]
fn concurrent_calls_match_sequential_results() {
    let options = erx::Options {
        sessions: 2,
        ..erx::Options::default()
    };
    let x = Arc::new(erx::Extractor::load(fixture_model(), options).expect("load"));
    let texts: Vec<String> = (0..24)
        .map(|i| format!("Report {i}: Kim Jong-nam met Choe Son Hui in Kuala Lumpur. The State Department said no."))
        .collect();
    let expected: Vec<erx::Document> = texts.iter().map(|t| x.extract(t).expect("seq")).collect();
    let handles: Vec<_> = (0..8)
        .map(|k| {
            let x = Arc::clone(&x);
            let texts = texts.clone();
            std::thread::spawn(move || {
                (0..texts.len())
                    .map(|i| {
                        let j = (i + k * 3) % texts.len();
                        (j, x.extract(&texts[j]).expect("concurrent"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for (j, doc) in h.join().expect("thread") {
            assert_eq!(doc, expected[j], "text {j}");
        }
    }
}

#[test]
fn extractor_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<erx::Extractor>();
}

#[test]
fn missing_model_folder_is_a_clear_error() {
    let err =
        erx::Extractor::load("/nonexistent/model", erx::Options::default()).expect_err("must fail");
    assert!(err.to_string().contains("erx.json"), "{err}");
}

#[test]
fn tampered_model_fails_the_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["erx.json", "tokenizer.json", "model.onnx"] {
        std::fs::copy(fixture_model().join(f), dir.path().join(f)).expect("copy");
    }
    let mut bytes = std::fs::read(dir.path().join("model.onnx")).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(dir.path().join("model.onnx"), bytes).expect("write");
    let err = erx::Extractor::load(dir.path(), erx::Options::default()).expect_err("must fail");
    assert!(matches!(err, erx::Error::Checksum { .. }), "{err}");
}

/// Labels of each name (lower-cased mention text) across a document's entities.
fn labels_per_name(doc: &erx::Document) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for e in &doc.entities {
        for m in &e.mentions {
            let labels = out.entry(m.text.to_lowercase()).or_default();
            if !labels.contains(&e.label) {
                labels.push(e.label.clone());
            }
        }
    }
    out
}

#[test]
fn one_name_has_one_label_per_document_unless_asked_otherwise() {
    let text = long_text(3_000);
    let load = |harmonise_labels| {
        let options = erx::Options {
            harmonise_labels,
            ..erx::Options::default()
        };
        erx::Extractor::load(fixture_model(), options).expect("fixture model")
    };
    let mixed = load(false).extract(&text).expect("extract");
    assert!(
        labels_per_name(&mixed).values().any(|l| l.len() > 1),
        "the fixture's random weights read some repeated name with two labels"
    );
    let doc = load(true).extract(&text).expect("extract");
    for (name, labels) in labels_per_name(&doc) {
        assert_eq!(labels.len(), 1, "{name:?} has labels {labels:?}");
    }
    let count = |d: &erx::Document| d.entities.iter().map(|e| e.mentions.len()).sum::<usize>();
    assert_eq!(count(&doc), count(&mixed), "the vote relabels, never drops");
    assert_offsets_match(&text, &doc);
}

const VALUE_LABELS: [&str; 7] = [
    "DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL",
];

#[test]
fn v2_contract_values_stand_alone_and_pairs_carry_one_relation() {
    let x = erx::Extractor::load(common::fixture_v2_model(), erx::Options::default())
        .expect("load the v2 fixture");
    let text = "Choe Son Hui met Kim Jong Nam in North Korea on Tuesday 2017 and 45 said. \
                Kim said 45 visa on Monday 2017. North Korea news report 2017.";
    let doc = x.extract(text).expect("extract");
    assert_offsets_match(text, &doc);
    let values: Vec<&erx::Entity> = doc
        .entities
        .iter()
        .filter(|e| VALUE_LABELS.contains(&e.label.as_str()))
        .collect();
    assert!(
        !values.is_empty(),
        "the fixture's value head tags some words"
    );
    assert!(
        values.iter().all(|e| e.mentions.len() == 1),
        "values are never merged: {values:?}"
    );
    assert!(
        doc.relations.len() > 1,
        "the fixture's random relation head links some pairs"
    );
    let mut pairs = std::collections::HashSet::new();
    for r in &doc.relations {
        assert_eq!(r.schema, "news");
        assert!(
            pairs.insert((&r.head, &r.tail)),
            "pair printed twice: {r:?}"
        );
        for end in [&r.head, &r.tail] {
            let e = doc.entities.iter().find(|e| &e.id == end).expect("entity");
            assert!(
                !VALUE_LABELS.contains(&e.label.as_str()),
                "relations stay between names"
            );
        }
    }
    // batch and one-by-one agree with this contract too
    let batch = x.extract_batch(&[text, text]).expect("batch");
    assert_eq!(batch[0], doc);
    assert_eq!(batch[1], doc);
}

#[test]
fn a_card_with_half_of_the_pair_context_is_refused() {
    let card_text =
        std::fs::read_to_string(common::fixture_v2_model().join("erx.json")).expect("read card");
    let card: serde_json::Value = serde_json::from_str(&card_text).expect("parse card");
    assert!(
        card["relation_context"].is_object(),
        "the v2 fixture has pair context"
    );
    let copy = |edit: &dyn Fn(&mut serde_json::Value)| {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["tokenizer.json", "model.onnx"] {
            std::fs::copy(common::fixture_v2_model().join(f), dir.path().join(f)).expect("copy");
        }
        let mut c = card.clone();
        edit(&mut c);
        std::fs::write(dir.path().join("erx.json"), c.to_string()).expect("write card");
        dir
    };
    // the tables without the output, and a table of the wrong width
    let no_output = copy(&|c| {
        c["outputs"]
            .as_object_mut()
            .expect("outputs")
            .remove("rel_context");
    });
    let narrow = copy(&|c| c["relation_context"]["gap_bias"][0] = serde_json::json!([0.0]));
    for dir in [&no_output, &narrow] {
        let err = erx::Extractor::load(dir.path(), erx::Options::default()).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("relation_context"), "{msg}");
    }
    // the card as exported loads
    let same = copy(&|_| {});
    erx::Extractor::load(same.path(), erx::Options::default()).expect("the fixture card loads");
}

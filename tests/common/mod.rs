//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The tiny random-weight model with the real contract (scripts/make_fixture.py).
pub fn fixture_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/fixture")
}

/// The tiny random-weight model with the v2 contract (`make_fixture.py --v2`).
pub fn fixture_v2_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/fixture-v2")
}

/// The shipped model.
pub fn real_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/erx-news-v2")
}

pub fn fixture_extractor() -> erx::Extractor {
    match erx::Extractor::load(fixture_model(), erx::Options::default()) {
        Ok(x) => x,
        Err(e) => panic!("cannot load the fixture model: {e}"),
    }
}

/// Every mention's and phrase's text equals the input between its code-point offsets.
pub fn assert_offsets_match(text: &str, doc: &erx::Document) {
    let chars: Vec<char> = text.chars().collect();
    let slice = |s: usize, e: usize| chars[s..e].iter().collect::<String>();
    for e in &doc.entities {
        for m in &e.mentions {
            assert_eq!(slice(m.start, m.end), m.text, "mention {m:?}");
        }
    }
    for r in &doc.relations {
        match (r.phrase_start, r.phrase_end) {
            (Some(s), Some(e)) => {
                assert_eq!(slice(s, e), r.phrase, "relation {r:?}");
                assert!(r.start <= s && e <= r.end, "relation {r:?}");
            }
            (None, None) => assert_eq!(r.phrase, "", "relation {r:?}"),
            _ => panic!("phrase offsets come in pairs: {r:?}"),
        }
    }
}

/// A long text in many scripts, built from varied sentences.
pub fn long_text(chars: usize) -> String {
    let parts = [
        "The State Department denied a visa to Choe Son Hui on Tuesday. ",
        "Émile Zola wrote in Paris, and the café reopened. ",
        "北京 and 東京 signed a deal 😀 worth $1.2bn. ",
        "Kim Jong-nam, a half-brother of the leader, died in Kuala Lumpur. ",
        "Cafe\u{301} owners in Montréal said: \"We are open.\" ",
        "A sentence without any final punctuation that just goes on and on and on for a while ",
    ];
    let mut s = String::new();
    let (mut i, mut n) = (0, 0);
    while n < chars {
        let part = parts[i % parts.len()];
        s.push_str(part);
        n += part.chars().count();
        i += 1;
    }
    s
}

/// Cases per property test: `default` in CI, or `PROPTEST_CASES` for a long run.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

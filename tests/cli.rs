//! The `erx` binary on the fixture model (the shipped one where real predicates are needed):
//! JSONL streaming, bad records, resume, help, decoding switches.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::fixture_model;
use serde_json::Value;

fn erx(args: &[&str], stdin: Option<&[u8]>) -> Output {
    erx_with(&fixture_model(), args, stdin)
}

fn erx_with(model: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_erx"));
    cmd.args(args)
        .arg("--model")
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn erx");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait erx")
}

/// Fails the test with erx's stderr unless it exited successfully.
fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Seven records: good ones between invalid JSON, missing field, non-UTF-8, empty text,
/// a non-object and a non-string text; a blank line (not a record) in the middle.
fn mixed_input() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(
        b"{\"id\": \"a\", \"text\": \"Choe Son Hui met Kim Jong-nam in Paris.\"}\n",
    );
    v.extend_from_slice(b"{not json}\n");
    v.extend_from_slice(b"{\"id\": \"c\", \"body\": \"no text field\"}\n");
    v.extend_from_slice(b"\n");
    v.extend_from_slice(b"{\"id\": \"d\", \"text\": \"caf\xff\xfe\"}\n");
    v.extend_from_slice(b"{\"id\": \"e\", \"text\": \"   \"}\n");
    v.extend_from_slice(b"{\"id\": 6, \"text\": \"The State Department said no.\"}\n");
    v.extend_from_slice(b"[1, 2]\n");
    v.extend_from_slice(b"{\"id\": \"h\", \"text\": 42}\n");
    v.extend_from_slice("{\"id\": \"i\", \"text\": \"Émile Zola 北京 😀 wrote.\"}".as_bytes());
    v
}

#[test]
fn every_record_yields_one_line_in_order_with_errors_flagged() {
    let out = erx(&["extract", "--quiet"], Some(&mixed_input()));
    assert_eq!(
        out.status.code(),
        Some(2),
        "some records failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = lines(&out.stdout);
    assert_eq!(recs.len(), 9, "one line per record");
    let ids: Vec<Value> = recs
        .iter()
        .map(|r| r.get("id").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        ids,
        vec![
            "a".into(),
            Value::Null,
            "c".into(),
            "d".into(),
            "e".into(),
            6.into(),
            Value::Null,
            "h".into(),
            "i".into()
        ]
    );
    let errors: Vec<bool> = recs.iter().map(|r| r.get("error").is_some()).collect();
    assert_eq!(
        errors,
        vec![false, true, true, true, true, false, true, true, false]
    );
    assert_eq!(recs[1]["line"], 2);
    assert_eq!(
        recs[4]["line"], 6,
        "blank lines still count for line numbers"
    );
    assert!(recs[2]["error"].as_str().unwrap_or("").contains("\"text\""));
    assert!(recs[3]["error"].as_str().unwrap_or("").contains("UTF-8"));
    assert!(recs[4]["error"].as_str().unwrap_or("").contains("empty"));
    for r in recs.iter().filter(|r| r.get("error").is_none()) {
        assert!(r["entities"].is_array() && r["relations"].is_array());
        assert_eq!(r["meta"]["model"], "erx-fixture");
        assert_eq!(r["meta"]["truncated"], false);
    }
}

#[test]
fn output_file_and_text_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let txt = dir.path().join("note.txt");
    std::fs::write(
        &txt,
        "Kim Jong-nam was killed in Kuala Lumpur.\n\nMalaysia said so.",
    )
    .expect("write");
    let jsonl = dir.path().join("in.jsonl");
    std::fs::write(&jsonl, "{\"id\": 1, \"text\": \"Choe Son Hui\"}\n").expect("write");
    let out_path = dir.path().join("out.jsonl");
    let (t, j, o) = (
        txt.to_string_lossy(),
        jsonl.to_string_lossy(),
        out_path.to_string_lossy(),
    );
    let out = erx(&["extract", &t, &j, "-o", &o, "--quiet"], None);
    assert_succeeded(&out);
    let recs = lines(&std::fs::read(&out_path).expect("read"));
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["id"], "note.txt");
    assert_eq!(recs[0]["meta"]["sentences"], 2);
    assert_eq!(recs[1]["id"], 1);
}

#[test]
fn resume_appends_only_missing_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    let texts: String = (0..10)
        .map(|i| format!("{{\"id\": \"doc-{i}\", \"text\": \"Report {i}: Choe Son Hui met Kim Jong-nam.\"}}\n"))
        .collect();
    std::fs::write(&input, format!("{texts}{{broken\n")).expect("write");
    let out_path = dir.path().join("out.jsonl");
    let (i, o) = (input.to_string_lossy(), out_path.to_string_lossy());

    let full = erx(&["extract", &i, "-o", &o, "--quiet"], None);
    assert_eq!(full.status.code(), Some(2));
    let expected = std::fs::read_to_string(&out_path).expect("read");
    assert_eq!(expected.lines().count(), 11);

    // simulate an interruption: 4 complete lines and half of the fifth
    let kept: Vec<&str> = expected.lines().take(5).collect();
    let partial = format!(
        "{}\n{}",
        kept[..4].join("\n"),
        &kept[4][..kept[4].len() / 2]
    );
    std::fs::write(&out_path, partial).expect("write");
    let resumed = erx(&["extract", &i, "-o", &o, "--resume"], None);
    assert_eq!(resumed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(stderr.contains("4 skipped"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out_path).expect("read"), expected);

    // resuming a finished run does nothing
    let again = erx(&["extract", &i, "-o", &o, "--resume", "--quiet"], None);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out_path).expect("read"), expected);
}

#[test]
fn text_flag_and_pretty_view() {
    let out = erx(
        &[
            "extract",
            "--text",
            "Choe Son Hui met Kim Jong-nam.",
            "--pretty",
        ],
        None,
    );
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("entities (") && s.contains("relations ("), "{s}");
    let out = erx(
        &["extract", "--text", "Choe Son Hui met Kim Jong-nam."],
        None,
    );
    assert_eq!(lines(&out.stdout).len(), 1);
}

#[test]
fn missing_model_and_bad_options_are_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_erx"))
        .args(["extract", "--text", "x", "--model", "/nonexistent"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("erx.json"));
    let out = erx(&["extract", "--text", "x", "--device", "tpu"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cpu, cuda or auto"));
    let out = erx(&["extract", "--resume"], Some(b""));
    assert_ne!(out.status.code(), Some(0), "--resume needs --output");
}

#[test]
fn a_bare_model_name_picks_a_shipped_model_from_any_directory() {
    // run from outside the repository: the name resolves, and ONNX Runtime is found, in
    // the repository the executable was built in
    let out = Command::new(env!("CARGO_BIN_EXE_erx"))
        .current_dir(std::env::temp_dir())
        .env_remove("ORT_DYLIB_PATH")
        .args([
            "extract",
            "--text",
            "Kim met Lee in Paris.",
            "--model",
            "fixture",
        ])
        .output()
        .expect("run");
    assert_succeeded(&out);
    assert_eq!(lines(&out.stdout)[0]["meta"]["model"], "erx-fixture");
    let out = Command::new(env!("CARGO_BIN_EXE_erx"))
        .current_dir(std::env::temp_dir())
        .args(["extract", "--text", "x", "--model", "no-such-model"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model"));
}

#[test]
fn help_is_the_manual() {
    for sub in ["extract", "eval", "bench"] {
        let out = Command::new(env!("CARGO_BIN_EXE_erx"))
            .args([sub, "--help"])
            .output()
            .expect("run");
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{sub}"
        );
    }
}

#[test]
fn bench_reports_throughput_as_json() {
    let dump = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
    let out = erx(
        &["bench", &dump.to_string_lossy(), "--json", "--warmup", "1"],
        None,
    );
    assert_succeeded(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["documents"], 6);
    assert!(v["words_per_s"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(v["padding_efficiency"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(v["provider"], "cpu");
    for stage in ["read", "split", "tokenize", "infer", "decode", "write"] {
        assert!(v["stages_s"][stage].is_number(), "{stage}");
    }
}

#[test]
fn eval_scores_gold_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gold = dir.path().join("gold.txt");
    std::fs::write(
        &gold,
        "Choe B-PER\nSon I-PER\nHui I-PER\nmet O\nKim B-PER\n\nParis B-LOC\n",
    )
    .expect("write");
    let out = erx(
        &[
            "eval",
            "--format",
            "conll2003",
            &gold.to_string_lossy(),
            "--json",
        ],
        None,
    );
    assert_succeeded(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["sentences"], 2);
    let micro = &v["entities"]["micro"];
    assert_eq!(
        micro["tp"].as_u64().unwrap_or(99) + micro["fn"].as_u64().unwrap_or(99),
        3,
        "3 gold entities"
    );
}

#[test]
fn eval_with_context_scores_every_gold_sentence_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gold = dir.path().join("gold.txt");
    let sentence =
        "Choe B-PER\nSon I-PER\nHui I-PER\nmet O\nKim B-PER\nin O\nGeneva B-LOC\n. O\n\n";
    std::fs::write(&gold, sentence.repeat(7)).expect("write");
    let path = gold.to_string_lossy();
    let mut gold_counts = Vec::new();
    for context in ["1", "3", "7"] {
        let out = erx(
            &[
                "eval",
                "--format",
                "conll2003",
                &path,
                "--json",
                "--context",
                context,
            ],
            None,
        );
        assert_succeeded(&out);
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["sentences"], 7);
        assert_eq!(v["context"].as_u64(), context.parse().ok());
        let micro = &v["entities"]["micro"];
        gold_counts.push(micro["tp"].as_u64().unwrap_or(0) + micro["fn"].as_u64().unwrap_or(0));
    }
    assert_eq!(
        gold_counts,
        vec![21, 21, 21],
        "3 gold entities in each of 7 sentences"
    );
    let out = erx(
        &["eval", "--format", "conll2003", &path, "--context", "0"],
        None,
    );
    assert!(!out.status.success(), "--context 0 must be refused");
}

#[test]
fn eval_refuses_context_for_relation_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gold = dir.path().join("gold.json");
    std::fs::write(&gold, "[]").expect("write");
    let out = erx(
        &[
            "eval",
            "--format",
            "conll04",
            &gold.to_string_lossy(),
            "--context",
            "4",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--context applies to --format conll2003 only"),
        "{err}"
    );
}

#[test]
fn decoding_switches_reach_the_pipeline() {
    // the fixture's random weights read repeated names with mixed labels
    let text: String = (0..40)
        .map(|i| {
            format!("Kim Jong-nam met Choe Son Hui in Paris on day {i} and Kent beat Surrey. ")
        })
        .collect();
    let input = serde_json::json!({"id": 1, "text": text}).to_string();
    let run = |model: &std::path::Path, flags: &[&str], input: &[u8]| {
        let mut args = vec!["extract"];
        args.extend_from_slice(flags);
        let out = erx_with(model, &args, Some(input));
        assert_succeeded(&out);
        lines(&out.stdout).remove(0)
    };
    // most labels any one lower-cased mention text has
    let labels_per_name = |doc: &Value| {
        let mut names: std::collections::HashMap<String, std::collections::HashSet<String>> =
            Default::default();
        for e in doc["entities"].as_array().into_iter().flatten() {
            for m in e["mentions"].as_array().into_iter().flatten() {
                names
                    .entry(m["text"].as_str().unwrap_or_default().to_lowercase())
                    .or_default()
                    .insert(e["label"].as_str().unwrap_or_default().to_string());
            }
        }
        names.values().map(|l| l.len()).max().unwrap_or(0)
    };
    let fixture = fixture_model();
    assert_eq!(labels_per_name(&run(&fixture, &[], input.as_bytes())), 1);
    assert!(labels_per_name(&run(&fixture, &["--sentence-labels"], input.as_bytes())) > 1);

    // the relation threshold reaches the shipped model's one-per-pair decoding
    let input = br#"{"id": 1, "text": "Apple Inc. has hired John Giannandrea, who ran Google's search unit, and Tim Cook praised him in Cupertino, California."}"#;
    let relations = |doc: &Value| doc["relations"].as_array().map_or(0, Vec::len);
    let real = common::real_model();
    let loose = relations(&run(&real, &["--relation-threshold", "0.01"], input));
    let default = relations(&run(&real, &[], input));
    let strict = relations(&run(&real, &["--relation-threshold", "0.9999"], input));
    assert!(
        loose > default,
        "{loose} relations at 0.01, {default} by default"
    );
    assert!(
        default >= strict,
        "{default} by default, {strict} at 0.9999"
    );
}

#[test]
fn eval_scores_the_news_corpus_and_refuses_a_different_dump() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Blair met Bush in 2004 and fined Acme.";
    let sha: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let record = serde_json::json!({
        "id": "n1", "sha256": sha, "sentences": [[0, 38]],
        "entities": [
            {"start": 0, "end": 5, "text": "Blair", "label": "PER", "sentence": 0},
            {"start": 10, "end": 14, "text": "Bush", "label": "PER", "sentence": 0},
            {"start": 18, "end": 22, "text": "2004", "label": "DATE", "sentence": 0},
            {"start": 33, "end": 37, "text": "Acme", "label": "ORG", "sentence": 0}],
        "relations": [{"head": 0, "tail": 1, "label": "met", "phrase": "met",
                       "phrase_start": 6, "phrase_end": 9, "negated": false, "sentence": 0}]});
    let corpus = dir.path().join("dev.jsonl");
    std::fs::write(&corpus, format!("{record}\n")).expect("write");
    let dump = dir.path().join("dump.jsonl");
    std::fs::write(
        &dump,
        format!("{}\n", serde_json::json!({"id": "n1", "text": text})),
    )
    .expect("write");
    let args = |dump: &std::path::Path| {
        vec![
            "eval".to_string(),
            "--format".into(),
            "erx-news".into(),
            corpus.to_string_lossy().into_owned(),
            "--dump".into(),
            dump.to_string_lossy().into_owned(),
            "--json".into(),
        ]
    };
    let owned = args(&dump);
    let out = erx(&owned.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_succeeded(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["articles"], 1);
    let count = |x: &Value| x["tp"].as_u64().unwrap_or(99) + x["fn"].as_u64().unwrap_or(99);
    assert_eq!(count(&v["scores"]["names"]["micro"]), 3, "3 gold names");
    assert_eq!(count(&v["scores"]["values"]["micro"]), 1, "1 gold value");
    assert_eq!(count(&v["scores"]["pairs"]), 1, "1 gold pair");

    let other = dir.path().join("other.jsonl");
    let changed = text.replace("2004", "2005");
    std::fs::write(
        &other,
        format!("{}\n", serde_json::json!({"id": "n1", "text": changed})),
    )
    .expect("write");
    let owned = args(&other);
    let out = erx(&owned.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sha256 mismatch"), "{err}");
}

//! Reliability of `erx extract` on the fixture model: runs killed at random moments
//! resume to byte-identical output, a full disk and a closed pipe are clear errors, and
//! random JSONL lines (invalid UTF-8, deep nesting, BOM, CRLF, NUL) each yield exactly
//! one output line, in order.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{cases, fixture_model};
use proptest::prelude::*;
use serde_json::Value;

fn erx_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_erx"));
    cmd.args(args)
        .arg("--model")
        .arg(fixture_model())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = erx_command(args);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn erx");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("wait erx")
}

/// Asserts that erx failed with exit status 1 and that stderr says each of `phrases`.
fn assert_fails_saying(out: &Output, phrases: &[&str]) {
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(phrases.iter().all(|p| err.contains(p)), "{err}");
}

/// A few hundred records of every kind: ids, no ids, a shared id, numeric ids, bad JSON,
/// a missing text, a BOM on the first line, CRLF endings and blank lines.
fn mixed_records(n: usize) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    for i in 0..n {
        let line = match i % 9 {
            0 => format!("{{\"id\": \"doc-{i}\", \"text\": \"Kim Jong-nam met Choe Son Hui in Geneva on day {i}.\"}}\n"),
            1 => format!("{{\"text\": \"The State Department denied a visa to Choe ({i}).\"}}\n"),
            2 => "{\"id\": \"same\", \"text\": \"Two records share this id.\"}\n".to_string(),
            3 => format!("{{\"id\": {i}, \"text\": \"Numeric id {i}: Reuters reported from Seoul.\"}}\r\n"),
            4 => format!("{{broken json {i}\n"),
            5 => format!("{{\"id\": \"no-text-{i}\"}}\n"),
            6 => "\n".to_string(),
            7 => format!("{{\"id\": \"long-{i}\", \"text\": \"{}\"}}\n", "Seoul and Tokyo met. ".repeat(40)),
            _ => format!("{{\"id\": \"u-{i}\", \"text\": \"Émile Zola 北京 👨‍👩‍👧 e\\u0301 {i}\"}}\n"),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// A small deterministic generator, so the kill points are reproducible.
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

fn reference(input: &Path, out: &Path) -> Vec<u8> {
    let args = [
        "extract",
        &input.to_string_lossy(),
        "-o",
        &out.to_string_lossy(),
        "--quiet",
    ];
    let full = run(&args, None);
    assert_eq!(
        full.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    std::fs::read(out).expect("read reference")
}

#[test]
fn killed_runs_resume_to_byte_identical_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, mixed_records(300)).expect("write");
    let expected = reference(&input, &dir.path().join("ref.jsonl"));
    assert_eq!(
        expected.iter().filter(|&&b| b == b'\n').count(),
        300 - 300 / 9
    );

    let out = dir.path().join("out.jsonl");
    let (i, o) = (
        input.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    let mut seed = 0x5eed_u64;
    let (mut kills, mut partial_resumes) = (0, 0);
    for round in 0..6 {
        let _ = std::fs::remove_file(&out);
        // kill the first run and up to two resumed runs at random moments once they are
        // writing (the model loads first), so each resume starts from a partial file
        for attempt in 0..3 {
            let mut args = vec!["extract", &i, "-o", &o, "--quiet", "--batch-docs", "3"];
            if attempt > 0 {
                args.push("--resume");
                let len = std::fs::metadata(&out).map_or(0, |m| m.len() as usize);
                if len > 0 && len < expected.len() {
                    partial_resumes += 1;
                }
            }
            let before = std::fs::metadata(&out).map_or(0, |m| m.len());
            let mut child = erx_command(&args).spawn().expect("spawn");
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while child.try_wait().expect("try_wait").is_none()
                && std::fs::metadata(&out).map_or(0, |m| m.len()) <= before
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(next(&mut seed) % 40));
            if child.try_wait().expect("try_wait").is_none() {
                child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
                kills += 1;
            }
            child.wait().expect("wait");
        }
        let last = run(&["extract", &i, "-o", &o, "--quiet", "--resume"], None);
        assert!(
            matches!(last.status.code(), Some(0 | 2)),
            "round {round}: {}",
            String::from_utf8_lossy(&last.stderr)
        );
        assert!(
            std::fs::read(&out).expect("read") == expected,
            "round {round}: output differs"
        );
    }
    assert!(kills > 0, "no run was killed; the kill points are too late");
    assert!(
        partial_resumes > 0,
        "no resume started from a partial output"
    );
}

#[test]
fn a_one_megabyte_jsonl_line_is_one_record() {
    let text = "x".repeat(1 << 20);
    let mut input = serde_json::json!({"id": "big", "text": text})
        .to_string()
        .into_bytes();
    input.extend_from_slice(b"\n{\"id\": \"after\", \"text\": \"Kim met Choe.\"}\n");
    let out = run(&["extract", "--quiet"], Some(&input));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).expect("JSON line")["id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::from("big"), Value::from("after")]);
}

#[test]
fn a_bom_before_the_first_record_is_not_part_of_it() {
    let input = b"\xEF\xBB\xBF{\"id\": \"first\", \"text\": \"Kim met Choe.\"}\n";
    let out = run(&["extract", "--quiet"], Some(input));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(v["id"], "first");
    assert!(v.get("error").is_none() && v["entities"].is_array());
}

#[test]
fn a_line_cut_anywhere_resumes_to_byte_identical_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, mixed_records(60)).expect("write");
    let expected = reference(&input, &dir.path().join("ref.jsonl"));
    let out = dir.path().join("out.jsonl");
    let (i, o) = (
        input.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    let mut seed = 7_u64;
    for _ in 0..8 {
        // a kill in the middle of writing a line leaves a prefix ending anywhere
        let cut = (next(&mut seed) as usize) % expected.len();
        std::fs::write(&out, &expected[..cut]).expect("write");
        let resumed = run(&["extract", &i, "-o", &o, "--quiet", "--resume"], None);
        assert!(matches!(resumed.status.code(), Some(0 | 2)));
        assert!(
            std::fs::read(&out).expect("read") == expected,
            "cut at byte {cut}"
        );
    }
}

#[test]
fn resume_refuses_output_from_another_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, mixed_records(20)).expect("write");
    let out = dir.path().join("out.jsonl");
    std::fs::write(&out, "{\"id\": \"someone-else\", \"entities\": []}\n").expect("write");
    let r = run(
        &[
            "extract",
            &input.to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
            "--resume",
        ],
        None,
    );
    assert_fails_saying(&r, &["cannot resume", "rerun without --resume"]);
}

#[test]
fn a_full_disk_is_a_clear_error() {
    if !Path::new("/dev/full").exists() {
        return; // not Linux
    }
    let input: Vec<u8> = mixed_records(40);
    let r = run(&["extract", "-o", "/dev/full"], Some(&input));
    assert_fails_saying(&r, &["cannot write output", "No space left"]);
}

#[test]
fn a_closed_pipe_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, mixed_records(600)).expect("write");
    let mut child = erx_command(&["extract", &input.to_string_lossy(), "--batch-docs", "1"])
        .spawn()
        .expect("spawn");
    // like `erx extract ... | head -1`
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    assert!(first.ends_with('\n'));
    let out = child.wait_with_output().expect("wait");
    assert_fails_saying(&out, &["cannot write output", "Broken pipe"]);
}

/// One JSONL line of hostile bytes.
fn hostile_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // random bytes, invalid UTF-8 included (no newline: that would be two lines)
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..200
        ),
        // a valid record with hostile text
        ".{0,80}".prop_map(|t| serde_json::json!({"id": "x", "text": t})
            .to_string()
            .into_bytes()),
        // deep nesting
        (1usize..5000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes()),
        (1usize..300).prop_map(|d| format!(
            "{}\"text\": \"a\"{}",
            "{\"a\":".repeat(d),
            "}".repeat(d)
        )
        .into_bytes()),
        Just(b"{\"text\": \"NUL \\u0000 inside\"}\r".to_vec()),
        Just(b"{\"text\": \"lone surrogate \\ud800\"}".to_vec()),
        Just(b"\xEF\xBB\xBF{\"text\": \"a BOM mid-file\"}".to_vec()),
        Just(b"   \r".to_vec()),
    ]
}

/// Whether the reader counts a line as a record (blank lines are not records).
fn is_record(line: &[u8], first: bool) -> bool {
    let line = if first {
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    } else {
        line
    };
    std::str::from_utf8(line).map_or(true, |t| !t.trim().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), ..ProptestConfig::default() })]

    #[test]
    fn every_jsonl_record_yields_one_line_in_order(lines in prop::collection::vec(hostile_line(), 1..30)) {
        let mut input = Vec::new();
        let mut expected_lines = Vec::new();
        for (k, l) in lines.iter().enumerate() {
            input.extend_from_slice(l);
            input.push(b'\n');
            if is_record(l, k == 0) {
                expected_lines.push(k + 1);
            }
        }
        let out = run(&["extract", "--quiet"], Some(&input));
        prop_assert!(matches!(out.status.code(), Some(0 | 2)), "{}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<Value> = out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("every output line is JSON")).collect();
        prop_assert_eq!(got.len(), expected_lines.len());
        for (v, line) in got.iter().zip(&expected_lines) {
            if v.get("error").is_some() {
                prop_assert_eq!(v["line"].as_u64(), Some(*line as u64));
            } else {
                prop_assert!(v["entities"].is_array());
            }
        }
    }
}

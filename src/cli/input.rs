//! Streaming input: JSONL records, whole text files, or stdin, one record at a time.
//! A bad record is not an error of the run: it becomes a `Record` whose text is `Err`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use erx::record::{self, RecordText};

/// How to read an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// `.txt` files are one document each, everything else is JSONL.
    Auto,
    /// One JSON object per line.
    Jsonl,
    /// The whole input is one document.
    Text,
}

/// One input record.
#[derive(Debug)]
pub struct Record {
    /// Input name (`-` for stdin).
    pub source: String,
    /// 1-based line number in the source (1 for text files).
    pub line: usize,
    /// The record's id, if it had one.
    pub id: Option<Value>,
    /// The text, or why the record is unusable.
    pub text: Result<String, String>,
}

enum Source {
    Lines {
        name: String,
        reader: Box<dyn BufRead>,
        line: usize,
    },
    Whole {
        name: String,
        reader: Box<dyn Read>,
    },
}

/// Reads records from the inputs in order.
pub struct RecordReader {
    pending: std::vec::IntoIter<(String, Option<PathBuf>)>,
    current: Option<Source>,
    format: InputFormat,
    text_field: String,
    id_field: String,
    /// Bytes consumed so far (for progress).
    pub bytes_read: u64,
    buf: Vec<u8>,
}

impl RecordReader {
    /// `inputs` empty or `-` means stdin.
    pub fn new(inputs: &[PathBuf], format: InputFormat, text_field: &str, id_field: &str) -> Self {
        let mut list: Vec<(String, Option<PathBuf>)> = inputs
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    ("-".to_string(), None)
                } else {
                    (p.display().to_string(), Some(p.clone()))
                }
            })
            .collect();
        if list.is_empty() {
            list.push(("-".to_string(), None));
        }
        RecordReader {
            pending: list.into_iter(),
            current: None,
            format,
            text_field: text_field.to_string(),
            id_field: id_field.to_string(),
            bytes_read: 0,
            buf: Vec::new(),
        }
    }

    /// Total size of the file inputs, when all of them are regular files.
    pub fn total_bytes(inputs: &[PathBuf]) -> Option<u64> {
        if inputs.is_empty() {
            return None;
        }
        inputs
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    None
                } else {
                    std::fs::metadata(p).ok().map(|m| m.len())
                }
            })
            .sum()
    }

    fn open_next(&mut self) -> Result<bool> {
        let Some((name, path)) = self.pending.next() else {
            return Ok(false);
        };
        let whole = match self.format {
            InputFormat::Text => true,
            InputFormat::Jsonl => false,
            InputFormat::Auto => path
                .as_ref()
                .and_then(|p| p.extension())
                .is_some_and(|e| e.eq_ignore_ascii_case("txt")),
        };
        let reader: Box<dyn Read> = match &path {
            None => Box::new(std::io::stdin().lock()),
            Some(p) => Box::new(
                File::open(p).with_context(|| format!("cannot open input {}", p.display()))?,
            ),
        };
        self.current = Some(if whole {
            Source::Whole { name, reader }
        } else {
            Source::Lines {
                name,
                reader: Box::new(BufReader::with_capacity(1 << 16, reader)),
                line: 0,
            }
        });
        Ok(true)
    }

    /// The next record; `Ok(None)` at the end of all inputs. I/O failures are errors.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            match self.current.take() {
                Some(Source::Whole { name, mut reader }) => {
                    self.buf.clear();
                    reader
                        .read_to_end(&mut self.buf)
                        .with_context(|| format!("cannot read {name}"))?;
                    self.bytes_read += self.buf.len() as u64;
                    let id = std::path::Path::new(&name)
                        .file_name()
                        .map(|f| Value::String(f.to_string_lossy().into_owned()));
                    let text = match std::str::from_utf8(&self.buf) {
                        Ok(t) if t.trim().is_empty() => Err("empty text".to_string()),
                        Ok(t) => Ok(t.to_string()),
                        Err(e) => Err(format!("not valid UTF-8 ({e})")),
                    };
                    return Ok(Some(Record {
                        source: name,
                        line: 1,
                        id,
                        text,
                    }));
                }
                Some(Source::Lines {
                    name,
                    mut reader,
                    mut line,
                }) => {
                    self.buf.clear();
                    let n = reader
                        .read_until(b'\n', &mut self.buf)
                        .with_context(|| format!("cannot read {name}"))?;
                    if n == 0 {
                        continue; // this input is done; move to the next
                    }
                    self.bytes_read += n as u64;
                    line += 1;
                    // a byte-order mark opening a JSONL file is framing, not part of the record
                    if line == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
                        self.buf.drain(..3);
                    }
                    let record = self.parse_line(&name, line);
                    self.current = Some(Source::Lines { name, reader, line });
                    match record {
                        Some(r) => return Ok(Some(r)),
                        None => continue,
                    }
                }
                None => continue,
            }
        }
    }

    /// Parses `self.buf` as one JSONL record; blank lines are not records.
    fn parse_line(&self, source: &str, line: usize) -> Option<Record> {
        let RecordText { id, text } =
            record::parse_jsonl_line(&self.buf, &self.text_field, &self.id_field)?;
        Some(Record {
            source: source.to_string(),
            line,
            id,
            text,
        })
    }
}

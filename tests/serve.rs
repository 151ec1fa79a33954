//! `erx serve` as a child process on the fixture model, spoken to over loopback with a
//! minimal HTTP/1.1 client: answers equal the library's documents byte for byte, every
//! limit answers with its status, 64 concurrent clients get their own results, and
//! SIGTERM finishes accepted work and exits 0.
//!
//! Run with `cargo test --release --features serve --test serve`.
#![cfg(feature = "serve")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{fixture_extractor, fixture_model};
use serde_json::{json, Value};

/// Longest a test waits for anything: a hung server fails the test instead of the suite.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `erx serve` on an ephemeral loopback port; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Everything the server wrote on stderr so far.
    log: Arc<Mutex<String>>,
    /// The thread copying stderr into `log`; it ends when the server exits.
    reader: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(options: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_erx"))
            .args(["serve", "--addr", "127.0.0.1:0", "--model"])
            .arg(fixture_model())
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn erx serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel();
        let sink = log.clone();
        // keep reading stderr for the whole run: a full pipe would block the server's logging
        let reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("erx: listening on http://") {
                    let _ = found.send(addr.trim().to_string());
                }
                let mut log = sink.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match address.recv_timeout(PATIENCE) {
            Ok(a) => a.parse().expect("socket address"),
            Err(_) => {
                let _ = child.kill();
                panic!("erx serve did not start:\n{}", log.lock().expect("log"));
            }
        };
        Server {
            child,
            addr,
            log,
            reader: Some(reader),
        }
    }

    fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        http(self.addr, method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\nserver log:\n{}", self.log()))
    }

    fn extract(&self, body: &Value) -> Reply {
        self.request("POST", "/v1/extract", Some(body.to_string().as_bytes()))
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// The value of an unlabelled series in `/metrics`.
    fn metric(&self, name: &str) -> f64 {
        let reply = self.request("GET", "/metrics", None);
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    /// Waits until a metric reaches `value` (the server got as far as the test needs).
    fn wait_for_metric(&self, name: &str, value: f64) {
        let start = Instant::now();
        while self.metric(name) != value {
            assert!(
                start.elapsed() < PATIENCE,
                "{name} never reached {value}\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Sends SIGTERM and waits for the process to exit.
    fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait_for_exit(|_| {})
    }

    /// Waits for the process to exit, calling `meanwhile` every 20 ms until it does.
    fn wait_for_exit(&mut self, mut meanwhile: impl FnMut(&Server)) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // the log is complete once the reader has seen the end of stderr
                if let Some(reader) = self.reader.take() {
                    reader.join().expect("log reader");
                }
                return status;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "erx serve did not exit after SIGTERM\n{}",
                self.log()
            );
            meanwhile(self);
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `"error"` message of an error answer, after checking the status and that the
    /// body is a JSON error object.
    fn error(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        match self.json().get("error") {
            Some(Value::String(message)) => message.clone(),
            _ => panic!(
                "no error message in {}",
                String::from_utf8_lossy(&self.body)
            ),
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`, so the answer ends
/// where the stream does).
/// `POST /v1/extract` with `body` from another thread, for requests still in flight when
/// the test signals the server.
fn extract_in_background(
    addr: SocketAddr,
    body: Value,
) -> thread::JoinHandle<std::io::Result<Reply>> {
    thread::spawn(move || {
        http(
            addr,
            "POST",
            "/v1/extract",
            Some(body.to_string().as_bytes()),
        )
    })
}

fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> std::io::Result<Reply> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// What the library serialises for `text` with `id`: the bytes the server must send.
fn library_bytes(extractor: &erx::Extractor, text: &str, id: Option<Value>) -> String {
    let mut doc = extractor.extract(text).expect("library extraction");
    doc.id = id;
    serde_json::to_string(&doc).expect("serialise")
}

const TEXTS: [&str; 4] = [
    "The State Department denied a visa to Choe Son Hui, a senior North Korean diplomat.",
    "Kim Jong-nam was killed at Kuala Lumpur airport. Malaysia blamed North Korean agents.",
    "Émile Zola wrote in Paris; 北京 and 東京 signed a deal 😀 worth $1.2bn on Tuesday.",
    "Angela Merkel met Emmanuel Macron in Berlin to discuss the European Union budget.",
];

#[test]
fn single_and_batch_answers_are_the_library_documents() {
    let server = Server::start(&[]);
    let library = fixture_extractor();

    for (i, text) in TEXTS.iter().enumerate() {
        let reply = server.extract(&json!({"id": i, "text": text}));
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let expected = library_bytes(&library, text, Some(json!(i)));
        assert_eq!(String::from_utf8_lossy(&reply.body), expected, "{text}");
        common::assert_offsets_match(text, &serde_json::from_slice(&reply.body).expect("doc"));
    }

    // without an id there is none in the answer
    let reply = server.extract(&json!({"text": TEXTS[0]}));
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        library_bytes(&library, TEXTS[0], None)
    );

    let ids = [json!("a"), json!(2), Value::Null, json!({"source": "wire"})];
    let documents: Vec<Value> = TEXTS
        .iter()
        .zip(&ids)
        .map(|(text, id)| match id {
            Value::Null => json!({"text": text}),
            id => json!({"id": id, "text": text}),
        })
        .collect();
    let reply = server.extract(&json!({ "documents": documents }));
    assert_eq!(reply.status, 200);
    let expected: Vec<String> = TEXTS
        .iter()
        .zip(&ids)
        .map(|(text, id)| library_bytes(&library, text, Some(id.clone()).filter(|v| !v.is_null())))
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        format!("{{\"documents\":[{}]}}", expected.join(","))
    );
}

#[test]
fn documents_without_usable_text_get_error_records_in_place() {
    let server = Server::start(&[]);
    let library = fixture_extractor();
    let reply = server.extract(&json!({"documents": [
        {"id": "a", "text": TEXTS[0]},
        {"id": "b", "body": "no text field"},
        {"id": "c", "text": "   "},
        42,
        {"id": "e", "text": 7},
        {"text": TEXTS[1]},
    ]}));
    assert_eq!(reply.status, 200);
    let documents = reply.json()["documents"].clone();
    let documents = documents.as_array().expect("documents array");
    assert_eq!(documents.len(), 6, "one answer per input, in order");
    assert_eq!(
        documents[0],
        json!(
            serde_json::from_str::<Value>(&library_bytes(&library, TEXTS[0], Some(json!("a"))))
                .expect("json")
        )
    );
    assert_eq!(
        documents[1],
        json!({"id": "b", "index": 1, "error": "no \"text\" field"})
    );
    assert_eq!(
        documents[2],
        json!({"id": "c", "index": 2, "error": "empty text"})
    );
    assert_eq!(documents[3]["index"], 3);
    assert!(documents[3].get("id").is_none());
    assert!(documents[3]["error"]
        .as_str()
        .expect("error")
        .contains("expected a JSON object"));
    assert_eq!(
        documents[4],
        json!({"id": "e", "index": 4, "error": "field \"text\" is not a string (number)"})
    );
    assert!(documents[5].get("error").is_none() && documents[5].get("id").is_none());
    assert_eq!(documents[5]["meta"]["model"], "erx-fixture");

    // the single form answers an unusable text with its error record and 422
    let reply = server.extract(&json!({"id": "x", "text": ""}));
    assert_eq!(reply.error(422), "empty text");
    assert_eq!(reply.json()["id"], "x");

    // an empty batch is an empty answer
    let reply = server.extract(&json!({"documents": []}));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"documents": []}));
}

#[test]
fn malformed_requests_are_400_saying_what_is_wrong() {
    let server = Server::start(&[]);
    for (body, says) in [
        (
            &b"{\"text\": \"Paris"[..],
            "invalid JSON: EOF while parsing a string at line 1 column 15",
        ),
        (
            b"{text: 1}",
            "invalid JSON: key must be a string at line 1 column 2",
        ),
        (b"", "empty request body"),
        (b"\xff\xfe", "invalid JSON"),
        (b"[{\"text\": \"Paris\"}]", "not a JSON array"),
        (b"{\"id\": 3}", "no \"text\" or \"documents\" field"),
        (
            b"{\"documents\": \"Paris\"}",
            "\"documents\" must be an array",
        ),
        (
            b"{\"documents\": [], \"text\": \"Paris\"}",
            "both \"text\" and \"documents\"",
        ),
    ] {
        let reply = server.request("POST", "/v1/extract", Some(body));
        let message = reply.error(400);
        assert!(
            message.contains(says),
            "{}: {message}",
            String::from_utf8_lossy(body)
        );
    }

    let reply = server.request("GET", "/v1/extract", None);
    assert!(reply.error(405).contains("GET"));
    assert!(
        reply.header("allow").is_some_and(|a| a.contains("POST")),
        "{reply:?}"
    );
    let reply = server.request("POST", "/v2/extract", Some(b"{}"));
    assert!(reply.error(404).contains("/v1/extract"));
}

#[test]
fn size_limits_answer_413_and_422_naming_the_limit() {
    let server = Server::start(&[
        "--max-body-bytes",
        "1024",
        "--max-request-docs",
        "2",
        "--max-doc-chars",
        "50",
        "--quiet",
    ]);
    let long = "Paris ".repeat(300);
    let reply = server.extract(&json!({"text": long}));
    assert!(reply.error(413).contains("1024 bytes"));

    let three = json!({"documents": [{"text": "Rome."}, {"text": "Oslo."}, {"text": "Kyiv."}]});
    let message = server.extract(&three).error(422);
    assert!(
        message.contains("3 in one request; the limit is 2"),
        "{message}"
    );

    // 51 characters (in more bytes than that) is one too many
    let text = format!("{}é", "a".repeat(50));
    let message = server
        .extract(&json!({"documents": [{"text": "Rome."}, {"id": "long", "text": text}]}))
        .error(422);
    assert!(
        message.contains("document 1 (id \"long\") has 51 characters; the limit is 50"),
        "{message}"
    );
    let message = server.extract(&json!({"text": text})).error(422);
    assert!(message.contains("the text has 51 characters"), "{message}");

    // exactly at the limits is fine
    let at_limit = json!({"documents": [{"text": "é".repeat(50)}, {"text": "Oslo."}]});
    assert_eq!(server.extract(&at_limit).status, 200);

    // --quiet: no request lines in the log
    assert!(
        !server.log().contains("POST /v1/extract"),
        "{}",
        server.log()
    );
}

#[test]
fn a_full_queue_and_too_many_requests_answer_503_with_retry_after() {
    // a worker holds each batch for 1.5 s, so the queue stays full while the test looks
    let server = Arc::new(Server::start(&[
        "--max-queue-docs",
        "2",
        "--max-request-docs",
        "2",
        "--max-concurrent-requests",
        "2",
        "--batch-wait-ms",
        "1500",
    ]));
    let library = fixture_extractor();
    let send = |body: Value| {
        let server = server.clone();
        thread::spawn(move || server.extract(&body))
    };

    // two queued documents fill the queue: a third is refused at once
    let first = send(json!({"documents": [{"text": TEXTS[0]}, {"text": TEXTS[1]}]}));
    server.wait_for_metric("erx_queue_documents", 2.0);
    let refused = server.extract(&json!({"text": TEXTS[2]}));
    assert!(refused.error(503).contains("queue is full"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.header("connection"), Some("close"));
    let first = first.join().expect("first client");
    assert_eq!(first.status, 200, "the accepted request is still answered");
    assert_eq!(
        first.json()["documents"][1],
        serde_json::from_str::<Value>(&library_bytes(&library, TEXTS[1], None)).expect("json")
    );

    // two requests in progress reach the cap: a third is shed before it is read
    server.wait_for_metric("erx_queue_documents", 0.0);
    let a = send(json!({"text": TEXTS[0]}));
    let b = send(json!({"text": TEXTS[1]}));
    server.wait_for_metric("erx_queue_documents", 2.0);
    let refused = server.extract(&json!({"text": TEXTS[2]}));
    assert!(refused
        .error(503)
        .contains("too many requests in progress (limit 2)"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    // its body was never read: the connection must not be reused
    assert_eq!(refused.header("connection"), Some("close"));
    assert_eq!(a.join().expect("client a").status, 200);
    assert_eq!(b.join().expect("client b").status, 200);

    let metrics =
        String::from_utf8_lossy(&server.request("GET", "/metrics", None).body).into_owned();
    assert!(
        metrics.contains("erx_http_requests_total{route=\"/v1/extract\",status=\"503\"} 2"),
        "{metrics}"
    );
}

#[test]
fn past_the_deadline_answers_504_and_drops_the_queued_work() {
    // the worker waits 2 s for batch-mates; the deadline is 200 ms
    let server = Server::start(&["--request-timeout-ms", "200", "--batch-wait-ms", "2000"]);
    let message = server.extract(&json!({"text": TEXTS[0]})).error(504);
    assert!(message.contains("deadline of 200 ms"), "{message}");
    // nobody waits for the document any more: it is dropped, not extracted
    server.wait_for_metric("erx_documents_abandoned_total", 1.0);
    server.wait_for_metric("erx_queue_documents", 0.0);
    assert_eq!(server.metric("erx_documents_total"), 0.0);
    assert!(
        server.log().contains("POST /v1/extract 504 docs=-"),
        "{}",
        server.log()
    );
}

#[test]
fn sixty_four_concurrent_clients_each_get_exactly_their_own_results() {
    const CLIENTS: usize = 64;
    // a longer batch wait makes requests from different clients share batches
    let server = Arc::new(Server::start(&["--batch-wait-ms", "20", "--quiet"]));
    let library = Arc::new(fixture_extractor());
    let text_of = |client: usize, n: usize| {
        format!(
            "Report {client}.{n}: {} {}",
            TEXTS[(client + n) % TEXTS.len()],
            "Officials in Geneva said more talks would follow. ".repeat(client % 5)
        )
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (server, library) = (server.clone(), library.clone());
            thread::spawn(move || {
                let texts = [text_of(client, 0), text_of(client, 1), text_of(client, 2)];
                let single = server.extract(&json!({"id": client, "text": texts[0]}));
                assert_eq!(single.status, 200, "client {client}");
                assert_eq!(
                    String::from_utf8_lossy(&single.body),
                    library_bytes(&library, &texts[0], Some(json!(client))),
                    "client {client}"
                );
                let ids = [format!("{client}-1"), format!("{client}-2")];
                let batch = server.extract(&json!({"documents": [
                    {"id": ids[0], "text": texts[1]},
                    {"id": ids[1], "text": texts[2]},
                ]}));
                assert_eq!(batch.status, 200, "client {client}");
                let expected = format!(
                    "{{\"documents\":[{},{}]}}",
                    library_bytes(&library, &texts[1], Some(json!(ids[0]))),
                    library_bytes(&library, &texts[2], Some(json!(ids[1])))
                );
                assert_eq!(
                    String::from_utf8_lossy(&batch.body),
                    expected,
                    "client {client}"
                );
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
    assert_eq!(server.metric("erx_documents_total"), (CLIENTS * 3) as f64);
    assert_eq!(server.metric("erx_queue_documents"), 0.0);
}

#[test]
fn health_readiness_metrics_and_request_log() {
    let server = Server::start(&[]);
    let reply = server.request("GET", "/healthz", None);
    assert_eq!((reply.status, reply.json()), (200, json!({"status": "ok"})));
    let reply = server.request("GET", "/readyz", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["model"], "erx-fixture");
    assert_eq!(reply.json()["provider"], "cpu");

    let text = TEXTS[0];
    assert_eq!(server.extract(&json!({"text": text})).status, 200);
    let reply = server.request("GET", "/metrics", None);
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    let metrics = String::from_utf8_lossy(&reply.body).into_owned();
    let words = text.split_whitespace().count();
    for line in [
        "erx_model_info{model=\"erx-fixture\",provider=\"cpu\"} 1".to_string(),
        "erx_http_requests_total{route=\"/v1/extract\",status=\"200\"} 1".to_string(),
        "erx_http_requests_total{route=\"/healthz\",status=\"200\"} 1".to_string(),
        "erx_documents_total 1".to_string(),
        format!("erx_words_total {words}"),
        "erx_queue_documents 0".to_string(),
        "erx_queue_capacity_documents 256".to_string(),
        "erx_extract_request_duration_seconds_count 1".to_string(),
        "erx_batch_documents_count 1".to_string(),
        "erx_batch_documents_bucket{le=\"1\"} 1".to_string(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }

    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.starts_with("erx: POST /v1/extract 200 docs=1 "))
        .unwrap_or_else(|| panic!("no request line in\n{log}"));
    assert!(line.ends_with("ms"), "{line}");
    assert!(log.contains("erx: GET /healthz 200 docs=- "), "{log}");
}

#[test]
fn sigterm_finishes_accepted_work_then_exits_0() {
    // the worker holds the batch for a second: SIGTERM arrives while it is in progress
    let mut server = Server::start(&["--batch-wait-ms", "1000"]);
    let addr = server.addr;
    let in_flight = extract_in_background(addr, json!({"id": "last", "text": TEXTS[1]}));
    server.wait_for_metric("erx_queue_documents", 1.0);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", server.log());

    let reply = in_flight.join().expect("client").expect("answered");
    assert_eq!(reply.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        library_bytes(&fixture_extractor(), TEXTS[1], Some(json!("last")))
    );
    // the listener is gone: no new connection is accepted
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_err());
    let log = server.log();
    let shutting = log.find("erx: shutting down").expect("shutdown line");
    let answered = log.find("POST /v1/extract 200").expect("request line");
    assert!(
        shutting < answered,
        "the request finished after the signal:\n{log}"
    );
    assert!(log.contains("erx: stopped"), "{log}");
}

#[test]
fn a_second_sigterm_stops_at_once_and_says_what_was_left() {
    // the worker would hold the batch for 30 s: only the second signal can end this soon
    let mut server = Server::start(&["--batch-wait-ms", "30000"]);
    let addr = server.addr;
    let in_flight = extract_in_background(addr, json!({"text": TEXTS[0]}));
    server.wait_for_metric("erx_queue_documents", 1.0);
    server.sigterm();
    let start = Instant::now();
    while !server.log().contains("erx: shutting down") {
        assert!(
            start.elapsed() < PATIENCE,
            "no shutdown line\n{}",
            server.log()
        );
        thread::sleep(Duration::from_millis(10));
    }
    // a signal that arrives before the server listens for the second one is not seen,
    // so keep signalling until it exits
    let status = server.wait_for_exit(Server::sigterm);
    assert_eq!(status.code(), Some(1), "{}", server.log());
    assert!(
        server
            .log()
            .contains("stopped by a second signal; 1 request(s) left unanswered"),
        "{}",
        server.log()
    );
    assert!(
        in_flight.join().expect("client").is_err(),
        "the request got no answer"
    );
}

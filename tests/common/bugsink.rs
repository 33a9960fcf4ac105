//! The Bugsink test server that `scripts/test` starts, as seen from a test.
//!
//! `scripts/test` (or `scripts/bugsink-server`, for running single tests by hand) runs Bugsink, a self-hosted
//! error tracker that speaks the Sentry protocol, on 127.0.0.1 with an empty database, and exports
//! `OPENADAPT_TEST_BUGSINK_{DSN,URL,TOKEN,PROJECT,DB}`, and `OPENADAPT_TEST_BUGSINK_USAGE_{DSN,PROJECT}` for a second
//! project on the same server (usage events sent to their own DSN: [`Bugsink::usage_project`]). Tests that need it are marked
//! `#[ignore = "needs the Bugsink test server: run scripts/test"]` and start with [`Bugsink::require`].
//!
//! What Bugsink does with what it receives (so tests check the right place):
//! - An error event is stored exactly as sent, looked up by its `event_id`: [`Bugsink::event`].
//! - Transactions, spans, sessions, logs, check-ins and client reports are accepted (200) and dropped; a second
//!   event in one envelope and a repeated `event_id` are ignored too. The raw envelopes are kept anyway (the
//!   server runs with `KEEP_ENVELOPES`), for every request to the project's envelope endpoint, 4xx answers
//!   included: [`Bugsink::envelopes`] / [`Bugsink::envelope_items`].
//! - Every envelope answer carries `X-Sentry-Rate-Limits: 86400:transaction;span:organization` (its way of
//!   saying it does not keep transactions).
#![allow(dead_code)] // each test file uses a different part of this module
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a panic fails the test"
)]

use std::path::PathBuf;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long [`Bugsink::event`] waits for an event to show up.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// Handle on the running test server.
pub struct Bugsink {
    /// The project's DSN, `http://KEY@127.0.0.1:PORT/PROJECT`.
    pub dsn: String,
    /// The server's base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    token: String,
    project: u64,
    db: PathBuf,
    agent: ureq::Agent,
}

/// One item of a raw envelope (see [`Bugsink::envelope_items`]).
#[derive(Debug, Clone)]
pub struct EnvelopeItem {
    /// The header line of the envelope the item came in.
    pub envelope_header: Value,
    /// The item's header line, e.g. `{"type":"transaction","length":123}`.
    pub header: Value,
    /// The item's payload bytes.
    pub payload: Vec<u8>,
}

impl EnvelopeItem {
    /// The item's `type` (`event`, `transaction`, `session`, `client_report`, ...).
    pub fn item_type(&self) -> &str {
        self.header["type"].as_str().unwrap_or("")
    }

    /// The payload parsed as JSON (every item type this crate sends is JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "{} item payload is not JSON ({e}): {}",
                self.item_type(),
                String::from_utf8_lossy(&self.payload)
            )
        })
    }
}

impl Bugsink {
    /// The server `scripts/test` started, or `None` when its variables are absent.
    pub fn from_env() -> Option<Bugsink> {
        let dsn = std::env::var("OPENADAPT_TEST_BUGSINK_DSN").ok()?;
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("OPENADAPT_TEST_BUGSINK_DSN is set but {name} is not: run scripts/test")
            })
        };
        let project = var("OPENADAPT_TEST_BUGSINK_PROJECT");
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build();
        Some(Bugsink {
            dsn,
            url: var("OPENADAPT_TEST_BUGSINK_URL")
                .trim_end_matches('/')
                .to_owned(),
            token: var("OPENADAPT_TEST_BUGSINK_TOKEN"),
            project: project.parse().unwrap_or_else(|_| {
                panic!("OPENADAPT_TEST_BUGSINK_PROJECT={project:?} is not a number")
            }),
            db: var("OPENADAPT_TEST_BUGSINK_DB").into(),
            agent: ureq::Agent::new_with_config(config),
        })
    }

    /// The server `scripts/test` started; panics when the variables are absent.
    pub fn require() -> Bugsink {
        Bugsink::from_env()
            .unwrap_or_else(|| panic!("run scripts/test: OPENADAPT_TEST_BUGSINK_DSN is not set"))
    }

    /// The second project of the same server, the one `scripts/test` made for usage events sent to their own DSN
    /// (`usage_dsn`): a handle like this one, on `OPENADAPT_TEST_BUGSINK_USAGE_{DSN,PROJECT}`.
    pub fn usage_project(&self) -> Bugsink {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run scripts/test (a template older than version 2 has one project only)")
            })
        };
        let project = var("OPENADAPT_TEST_BUGSINK_USAGE_PROJECT");
        Bugsink {
            dsn: var("OPENADAPT_TEST_BUGSINK_USAGE_DSN"),
            url: self.url.clone(),
            token: self.token.clone(),
            project: project.parse().unwrap_or_else(|_| {
                panic!("OPENADAPT_TEST_BUGSINK_USAGE_PROJECT={project:?} is not a number")
            }),
            db: self.db.clone(),
            agent: self.agent.clone(),
        }
    }

    /// The project id (the last path segment of the DSN).
    pub fn project(&self) -> u64 {
        self.project
    }

    /// The DSN's public key.
    pub fn public_key(&self) -> &str {
        let rest = self
            .dsn
            .split_once("://")
            .map_or(self.dsn.as_str(), |(_, rest)| rest);
        rest.split_once('@').map_or("", |(key, _)| key)
    }

    /// The project's envelope endpoint, `http://127.0.0.1:PORT/api/PROJECT/envelope/`.
    pub fn envelope_endpoint(&self) -> String {
        format!("{}/api/{}/envelope/", self.url, self.project)
    }

    /// The `X-Sentry-Auth` header value that authenticates against the DSN.
    pub fn sentry_auth(&self) -> String {
        format!("Sentry sentry_version=7, sentry_key={}", self.public_key())
    }

    /// The stored event JSON, exactly as the client sent it, looked up by `event_id` (with or without dashes,
    /// any case). Waits up to 10 s for it to appear; `None` if it never does.
    pub fn event(&self, event_id: &str) -> Option<Value> {
        let event_id: String = event_id
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_lowercase();
        let url = format!(
            "{}/api/canonical/0/events/lookup/?project={}&event_id={event_id}",
            self.url, self.project
        );
        let deadline = Instant::now() + EVENT_WAIT;
        loop {
            let (status, body) = self.get(&url);
            match status {
                200 => {
                    let mut found: Value = serde_json::from_str(&body)
                        .unwrap_or_else(|e| panic!("GET {url}: answer is not JSON ({e}): {body}"));
                    return Some(found["data"].take());
                }
                404 if Instant::now() < deadline => sleep(Duration::from_millis(100)),
                404 => return None,
                _ => panic!("GET {url}: HTTP {status}: {body}"),
            }
        }
    }

    /// How many events the project has digested (stored) since the server started; it only goes up.
    /// Things Bugsink drops (transactions, sessions, duplicates, ...) are not counted: see [`Bugsink::envelopes`].
    pub fn event_count(&self) -> u64 {
        let url = format!("{}/api/canonical/0/projects/{}/", self.url, self.project);
        let (status, body) = self.get(&url);
        assert_eq!(status, 200, "GET {url}: {body}");
        let project: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url}: answer is not JSON ({e}): {body}"));
        project["digested_event_count"]
            .as_u64()
            .unwrap_or_else(|| panic!("GET {url}: no digested_event_count in {body}"))
    }

    /// Every raw envelope the project's envelope endpoint received, oldest first, as received (decompressed),
    /// whatever the answer was. Includes what Bugsink drops (transactions, sessions, client reports). Its count is
    /// the number of requests that reached the server for this project.
    pub fn envelopes(&self) -> Vec<Vec<u8>> {
        // Read straight from the SQLite database (table ingest_envelope): the REST API does not serve envelopes.
        self.read_column("SELECT data FROM ingest_envelope WHERE project_pk = ? ORDER BY id")
    }

    /// Every event the project has stored, oldest first, each exactly as sent (read from table `events_event`).
    /// For finding an event whose id is not known, e.g. by a tag: [`Bugsink::find_events`].
    pub fn events(&self) -> Vec<Value> {
        self.read_column(
            "SELECT data FROM events_event WHERE project_id = ? ORDER BY digest_order, ingested_at",
        )
        .iter()
        .map(|data| {
            serde_json::from_slice(data).unwrap_or_else(|e| {
                panic!(
                    "stored event is not JSON ({e}): {}",
                    String::from_utf8_lossy(data)
                )
            })
        })
        .collect()
    }

    /// The stored events for which `wanted` is true, waiting up to 10 s for at least one to appear (empty if
    /// none does). Returns as soon as one matches: do not use it to prove that no more arrive later.
    pub fn find_events(&self, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + EVENT_WAIT;
        loop {
            let found: Vec<Value> = self.events().into_iter().filter(|e| wanted(e)).collect();
            if !found.is_empty() || Instant::now() >= deadline {
                return found;
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Runs `sql` (one `?`, bound to the project id; one column, blob or text) on the server's SQLite database and
    /// returns the column's values. Uses Python's sqlite3 (no extra Rust dependency); its output is framed as
    /// (u64 LE length, bytes)*.
    fn read_column(&self, sql: &str) -> Vec<Vec<u8>> {
        const READ: &str = r#"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
out = sys.stdout.buffer
for (data,) in db.execute(sys.argv[3], (int(sys.argv[2]),)):
    if isinstance(data, str):
        data = data.encode("utf-8")
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)
"#;
        let venv_python =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".bugsink/venv/bin/python");
        let python = if venv_python.exists() {
            venv_python
        } else {
            PathBuf::from("python3")
        };
        let output = Command::new(&python)
            .arg("-c")
            .arg(READ)
            .arg(&self.db)
            .arg(self.project.to_string())
            .arg(sql)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
        assert!(
            output.status.success(),
            "reading {sql:?} from {}: {}",
            self.db.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut rest = output.stdout.as_slice();
        let mut rows = Vec::new();
        while !rest.is_empty() {
            let (len, tail) = rest.split_at(8);
            let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
            let (data, tail) = tail.split_at(len);
            rows.push(data.to_vec());
            rest = tail;
        }
        rows
    }

    /// The items of every kept envelope ([`Bugsink::envelopes`]), oldest first.
    pub fn envelope_items(&self) -> Vec<EnvelopeItem> {
        self.envelopes()
            .iter()
            .flat_map(|raw| parse_envelope(raw))
            .collect()
    }

    fn get(&self, url: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap_or_else(|e| {
                panic!("GET {url}: {e} (is the server from scripts/test still running?)")
            });
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .unwrap_or_else(|e| panic!("GET {url}: reading the answer: {e}"));
        (status, body)
    }
}

/// Splits a raw Sentry envelope (`header\n` then `item-header\npayload\n` repeated) into its items. An item
/// header's `length`, when present, gives the payload's size; otherwise the payload runs to the next newline.
pub fn parse_envelope(raw: &[u8]) -> Vec<EnvelopeItem> {
    fn line(bytes: &[u8]) -> (&[u8], &[u8]) {
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (bytes, &[]),
        }
    }
    let json = |bytes: &[u8]| -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!(
                "envelope header is not JSON ({e}): {}",
                String::from_utf8_lossy(raw)
            )
        })
    };
    let (header, mut rest) = line(raw);
    let envelope_header = json(header);
    let mut items = Vec::new();
    loop {
        while rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        if rest.is_empty() {
            return items;
        }
        let (item_header, tail) = line(rest);
        let header = json(item_header);
        let payload;
        match header["length"].as_u64() {
            Some(len) => {
                let len = (len as usize).min(tail.len());
                payload = &tail[..len];
                rest = &tail[len..];
            }
            None => (payload, rest) = line(tail),
        }
        items.push(EnvelopeItem {
            envelope_header: envelope_header.clone(),
            header,
            payload: payload.to_vec(),
        });
    }
}

//! A loopback fault injector: a tiny HTTP server on 127.0.0.1 that plays a
//! healthy Sentry server or one of the faults a user's network throws, switchable
//! while it runs, and records every request it sees.
//!
//! std only: a non-blocking `TcpListener` polled by one accept thread, and one
//! thread per connection. Every thread polls a stop flag (reads have a 50 ms
//! timeout), so [`Injector::stop`] returns promptly and closes every socket,
//! including the ones a silent server holds.
//!
//! How each [`Mode`] answers a request:
//! - `Healthy`: `200 OK` with the body `{}`; the connection stays open for the
//!   client's next request (HTTP/1.1 keep-alive): [`Injector::connections`]
//!   counts the TCP connections accepted;
//! - `Silent`: reads the request and never answers; holds the socket (draining
//!   whatever the client sends) until the client closes it or the injector stops;
//! - `TooManyRequests(headers)`: `429` with the given headers;
//! - `ServerError`: `500`;
//! - `Status(code, headers)`: that status with those headers;
//! - `Reset`: waits for the first bytes of the request, peeks them (to record the
//!   path) and closes the socket without reading them. Linux answers a close with
//!   unread received data by sending RST instead of FIN (std has no stable
//!   `SO_LINGER`, and socket2 is not a dependency), so the client sees
//!   "connection reset by peer" (or, if the RST races its write, a broken pipe).
//!
//! Request bodies are read by `Content-Length` or `Transfer-Encoding: chunked`;
//! the body is parsed as a Sentry envelope.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use openadapt_telemetry::testing::Clock;
use serde_json::Value;

/// How the injector answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `200 OK`, body `{}`.
    Healthy,
    /// Reads the request, never answers, holds the socket.
    Silent,
    /// `429 Too Many Requests` with these headers (name, value).
    TooManyRequests(Vec<(String, String)>),
    /// `500 Internal Server Error`.
    ServerError,
    /// Any status with these headers (name, value), body `{}`.
    Status(u16, Vec<(String, String)>),
    /// Closes the connection with a TCP reset as soon as the request starts.
    Reset,
}

impl Mode {
    /// `429` with `Retry-After: SECS`.
    pub fn retry_after(secs: u32) -> Mode {
        Mode::TooManyRequests(vec![("Retry-After".into(), secs.to_string())])
    }

    /// `429` with `X-Sentry-Rate-Limits: VALUE`.
    pub fn sentry_rate_limits(value: &str) -> Mode {
        Mode::TooManyRequests(vec![("X-Sentry-Rate-Limits".into(), value.to_owned())])
    }
}

/// One envelope item: its `type` and its payload as JSON (`Null` if it is not JSON).
#[derive(Debug, Clone)]
pub struct Item {
    pub kind: String,
    pub payload: Value,
}

/// One request the injector saw.
#[derive(Debug, Clone)]
pub struct Request {
    /// When its head (or, for `Reset`, its first bytes) arrived.
    pub at: Instant,
    /// The mode it was answered with.
    pub mode: Mode,
    /// The request path, e.g. `/api/1/envelope/` (may be empty for a reset).
    pub path: String,
    /// Header names (lowercase) and values; empty for a reset.
    pub headers: Vec<(String, String)>,
    /// The envelope's items; empty for a reset.
    pub items: Vec<Item>,
}

impl Request {
    pub fn items_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.items
            .iter()
            .filter(move |i| i.kind == kind)
            .map(|i| &i.payload)
    }

    pub fn has_event(&self) -> bool {
        self.items.iter().any(|i| i.kind == "event")
    }
}

#[derive(Debug)]
struct State {
    mode: Mutex<Mode>,
    requests: Mutex<Vec<Request>>,
    /// TCP connections accepted, whether or not a request came on them.
    accepted: AtomicUsize,
    /// The clock requests are stamped with (a test's virtual clock), or the real one.
    clock: Option<Clock>,
}

impl State {
    fn now(&self) -> Instant {
        self.clock.as_ref().map_or_else(Instant::now, Clock::now)
    }

    fn mode(&self) -> Mode {
        self.mode.lock().map(|m| m.clone()).unwrap_or(Mode::Healthy)
    }

    fn record(&self, request: Request) {
        if let Ok(mut all) = self.requests.lock() {
            all.push(request);
        }
    }
}

/// One listening period, between `start`/`restart` and `stop`.
struct Run {
    running: Arc<AtomicBool>,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// The fault injector. Stops (closing every socket) when dropped.
pub struct Injector {
    addr: SocketAddr,
    state: Arc<State>,
    run: Option<Run>,
}

impl Injector {
    /// Listens on a free port of 127.0.0.1 and answers in `mode`.
    pub fn start(mode: Mode) -> Injector {
        Injector::start_stamping(mode, None)
    }

    /// As [`Injector::start`], stamping each request's [`Request::at`] with
    /// `clock` (the virtual clock the crate under test reads), so schedules
    /// are measured in the time the crate sees.
    pub fn start_on(mode: Mode, clock: &Clock) -> Injector {
        Injector::start_stamping(mode, Some(clock.clone()))
    }

    fn start_stamping(mode: Mode, clock: Option<Clock>) -> Injector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            mode: Mutex::new(mode),
            requests: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            clock,
        });
        let mut injector = Injector {
            addr,
            state,
            run: None,
        };
        injector.listen(listener);
        injector
    }

    /// The DSN of project 1 on this server: `http://public@127.0.0.1:PORT/1`.
    pub fn dsn(&self) -> String {
        format!("http://public@{}/1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the next requests (including those on open connections) in `mode`.
    pub fn set_mode(&self, mode: Mode) {
        if let Ok(mut m) = self.state.mode.lock() {
            *m = mode;
        }
    }

    /// Stops listening and closes every connection: from now on connecting is refused.
    /// Returns once every thread of this run has ended (within about 100 ms).
    pub fn stop(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        run.running.store(false, Ordering::SeqCst);
        let _ = run.accept.join();
        let handles = run
            .connections
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        for handle in handles {
            let _ = handle.join();
        }
    }

    /// Listens again on the same port (retrying the bind for up to 5 s).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.listen(listener);
    }

    fn listen(&mut self, listener: TcpListener) {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let running = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let running = running.clone();
            let connections = connections.clone();
            let state = self.state.clone();
            thread::Builder::new()
                .name("fault-injector-accept".into())
                .spawn(move || {
                    while running.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                state.accepted.fetch_add(1, Ordering::SeqCst);
                                let running = running.clone();
                                let state = state.clone();
                                let handle = thread::Builder::new()
                                    .name("fault-injector-conn".into())
                                    .spawn(move || serve(stream, &state, &running));
                                if let (Ok(handle), Ok(mut all)) = (handle, connections.lock()) {
                                    all.push(handle);
                                }
                            }
                            Err(_) => thread::sleep(Duration::from_millis(2)),
                        }
                    }
                    // The listener is dropped here: connecting is refused from now on.
                })
                .expect("spawn the accept thread")
        };
        self.run = Some(Run {
            running,
            accept,
            connections,
        });
    }

    /// Every request seen so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many TCP connections were accepted so far (requests may share one: keep-alive).
    pub fn connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Payloads of every item of this type, in order.
    pub fn items_of(&self, kind: &str) -> Vec<Value> {
        self.requests()
            .iter()
            .flat_map(|r| r.items_of(kind).cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Event payloads, from every request (whatever it was answered).
    pub fn events(&self) -> Vec<Value> {
        self.items_of("event")
    }

    /// Event payloads of requests answered `200`: the events that were delivered.
    pub fn delivered_events(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.mode == Mode::Healthy)
            .flat_map(|r| r.items_of("event").cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Client-report payloads of requests answered `200`.
    pub fn delivered_client_reports(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.mode == Mode::Healthy)
            .flat_map(|r| r.items_of("client_report").cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Polls (every 10 ms) until `done` holds for the requests seen, or `timeout`.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[Request]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .state
                .requests
                .lock()
                .map(|r| done(&r))
                .unwrap_or(false)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------
// Serving one connection

/// Read timeout: how often a blocked connection thread checks the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Longest time one request may take to arrive in full.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

fn serve(mut stream: TcpStream, state: &State, running: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if buf.is_empty() && !wait_readable(&stream, running) {
            return;
        }
        let mode = state.mode();
        if mode == Mode::Reset {
            let mut peek = [0u8; 512];
            let n = stream.peek(&mut peek).unwrap_or(0);
            let path = request_path(&peek[..n]);
            state.record(Request {
                at: state.now(),
                mode,
                path,
                headers: Vec::new(),
                items: Vec::new(),
            });
            // Dropped with unread data in the receive buffer: the kernel sends RST.
            drop(stream);
            return;
        }
        let Some((path, headers, body, at)) = read_request(&mut stream, &mut buf, state, running)
        else {
            return;
        };
        state.record(Request {
            at,
            mode: mode.clone(),
            path,
            headers,
            items: parse_envelope_items(&body),
        });
        let response = match &mode {
            Mode::Healthy => response(200, "OK", &[]),
            Mode::TooManyRequests(headers) => response(429, "Too Many Requests", headers),
            Mode::ServerError => response(500, "Internal Server Error", &[]),
            Mode::Status(status, headers) => response(*status, "Status", headers),
            Mode::Silent => {
                hold(stream, running);
                return;
            }
            Mode::Reset => unreachable!("handled above"),
        };
        if stream.write_all(&response).is_err() || stream.flush().is_err() {
            return;
        }
    }
}

fn response(status: u16, reason: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n{}");
    out.into_bytes()
}

/// Waits for the next bytes; false on EOF, error or stop.
fn wait_readable(stream: &TcpStream, running: &AtomicBool) -> bool {
    let mut one = [0u8; 1];
    while running.load(Ordering::SeqCst) {
        match stream.peek(&mut one) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(e) if is_timeout(&e) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// Never answers: drains and holds the socket until the peer closes it or the injector stops.
fn hold(mut stream: TcpStream, running: &AtomicBool) {
    let mut scratch = [0u8; 4096];
    while running.load(Ordering::SeqCst) {
        match stream.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn request_path(head: &[u8]) -> String {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// Reads more bytes into `buf`; `None` on EOF, error, stop or deadline.
fn fill(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    running: &AtomicBool,
    deadline: Instant,
) -> Option<()> {
    let mut tmp = [0u8; 16 * 1024];
    loop {
        if !running.load(Ordering::SeqCst) || Instant::now() >= deadline {
            return None;
        }
        match stream.read(&mut tmp) {
            Ok(0) => return None,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                return Some(());
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return None,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

type Parsed = (String, Vec<(String, String)>, Vec<u8>, Instant);

/// Reads one HTTP/1.1 request: path, headers, body (by content-length or chunked).
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    state: &State,
    running: &AtomicBool,
) -> Option<Parsed> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        fill(stream, buf, running, deadline)?;
    };
    let at = state.now();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let path = request_path(lines.next().unwrap_or_default().as_bytes());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                fill(stream, buf, running, deadline)?;
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16).ok()?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers, if any, end with an empty line.
                loop {
                    let end = loop {
                        if let Some(i) = find(buf, b"\r\n") {
                            break i;
                        }
                        fill(stream, buf, running, deadline)?;
                    };
                    buf.drain(..end + 2);
                    if end == 0 {
                        break;
                    }
                }
                break body;
            }
            while buf.len() < size + 2 {
                fill(stream, buf, running, deadline)?;
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < length {
            fill(stream, buf, running, deadline)?;
        }
        buf.drain(..length).collect()
    };
    Some((path, headers, body, at))
}

/// Parses a Sentry envelope: a header line, then per item a JSON header line
/// (`type`, optional `length`) and the payload (`length` bytes, or one line).
pub fn parse_envelope_items(body: &[u8]) -> Vec<Item> {
    let mut items = Vec::new();
    let Some(first) = body.iter().position(|&b| b == b'\n') else {
        return items;
    };
    let mut rest = &body[first + 1..];
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[(end + 1).min(rest.len())..];
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(header) = serde_json::from_slice::<Value>(line) else {
            break;
        };
        let kind = header["type"].as_str().unwrap_or_default().to_owned();
        let payload = match header["length"].as_u64() {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                let payload = &rest[..n];
                rest = &rest[n..];
                if rest.first() == Some(&b'\n') {
                    rest = &rest[1..];
                }
                payload
            }
            None => {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let payload = &rest[..end];
                rest = &rest[(end + 1).min(rest.len())..];
                payload
            }
        };
        items.push(Item {
            kind,
            payload: serde_json::from_slice(payload).unwrap_or(Value::Null),
        });
    }
    items
}

// ---------------------------------------------------------------------------
// Reading events and client reports

/// An event's message: `message` (a string or `{formatted}`/`{message}`), else
/// `logentry`, else the last exception's value.
pub fn message(event: &Value) -> String {
    let from = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("formatted")
                .or_else(|| o.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        }
    };
    from(&event["message"])
        .or_else(|| from(&event["logentry"]))
        .or_else(|| {
            event["exception"]["values"]
                .as_array()
                .and_then(|v| v.last())
                .and_then(|e| e["value"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// How many occurrences an event stands for: `extra.repeat_count`, or 1.
pub fn repeat_count(event: &Value) -> u64 {
    event["extra"]["repeat_count"]
        .as_u64()
        .or_else(|| {
            event["extra"]["repeat_count"]
                .as_str()
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or(1)
}

/// Sum of `discarded_events[].quantity` of this category over client reports.
pub fn discarded(reports: &[Value], category: &str) -> u64 {
    reports
        .iter()
        .flat_map(|r| {
            r["discarded_events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|d| d["category"] == category)
        .map(|d| d["quantity"].as_u64().unwrap_or(0))
        .sum()
}

/// The same, split by reason.
pub fn discarded_by_reason(reports: &[Value], category: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for d in reports
        .iter()
        .flat_map(|r| {
            r["discarded_events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|d| d["category"] == category)
    {
        let reason = d["reason"].as_str().unwrap_or_default().to_owned();
        let quantity = d["quantity"].as_u64().unwrap_or(0);
        match out.iter_mut().find(|(r, _)| *r == reason) {
            Some(slot) => slot.1 += quantity,
            None => out.push((reason, quantity)),
        }
    }
    out
}

/// The most requests seen in any window of this length (sliding, starting at each request).
pub fn max_in_window(requests: &[Request], window: Duration) -> usize {
    let mut times: Vec<Instant> = requests.iter().map(|r| r.at).collect();
    times.sort();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Caller latency and memory

/// Per-call latencies of a loop of calls.
#[derive(Debug, Clone)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut all: Vec<Duration>) -> Latencies {
        all.sort();
        Latencies { sorted: all }
    }

    /// Times `n` calls of `call(i)`, each on its own.
    pub fn measure(n: usize, mut call: impl FnMut(usize)) -> Latencies {
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            let start = Instant::now();
            call(i);
            all.push(start.elapsed());
        }
        Latencies::new(all)
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The `q`-quantile (nearest rank), `q` in 0..=1.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    pub fn p999(&self) -> Duration {
        self.quantile(0.999)
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// Prints `label: N calls: median, p99.9, max` on stderr (see it with --nocapture).
    pub fn report(&self, label: &str) {
        eprintln!(
            "[fault] {label}: {} error! calls: median {:?}, p99.9 {:?}, max {:?}",
            self.len(),
            self.median(),
            self.p999(),
            self.max()
        );
    }
}

/// The bound of issue 4 on a caller's p99.9: a blocking connect or timeout costs far more.
pub const P999_BOUND: Duration = Duration::from_millis(50);

/// A `/proc/self/status` field in bytes (`VmRSS`: resident now, `VmHWM`: peak resident).
/// Linux only (the file gives kB, so no page-size assumption).
pub fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn resident_bytes() -> Option<u64> {
    proc_status_bytes("VmRSS:")
}

pub const MIB: u64 = 1024 * 1024;

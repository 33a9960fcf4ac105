//! The privacy rules run in linear time: scrubbing text 4 times as long, dense
//! in what each rule looks for, takes about 4 times as long, never 16 times (a
//! quadratic rule). Its own test binary, so that no other binary's tests
//! compete for the CPU while it measures (its own three run side by side: a
//! ratio of two sizes measured back to back holds under that).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]

use std::time::{Duration, Instant};

use openadapt_telemetry::privacy::{scrub_item_json, scrub_str};
use serde_json::{Value, json};

/// How long one run of `f` takes.
fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Whether `large` (4 times `small`) costs about 4 times as much: linear is 4
/// times, quadratic 16; the bound is 10, with a floor for timer noise. Noise
/// (other programs) passes on a second try; a quadratic rule fails every time.
/// The small run is the faster of two (noise there would hide growth); noise
/// in the large run only fails a try.
fn linear(mut small: impl FnMut(), mut large: impl FnMut()) -> Result<(), String> {
    let mut tries = Vec::new();
    for _ in 0..3 {
        let a = time(&mut small).min(time(&mut small));
        let b = time(&mut large);
        tries.push((a, b));
        if b < a * 10 + Duration::from_millis(1) {
            return Ok(());
        }
    }
    Err(format!("{tries:?}"))
}

/// Scrubbing each of `chunks` repeated (and the home folder, when `home`) is linear.
fn text_is_linear(chunks: &[&str], home: bool) {
    let home_chunk = dirs::home_dir()
        .filter(|_| home)
        .map(|h| format!("{}/x ", h.to_string_lossy()));
    let mut all: Vec<&str> = chunks.to_vec();
    all.extend(home_chunk.as_deref());
    // Above 32 KiB: below, the regex engine picks faster strategies for small
    // texts, a step that is not a trend.
    const N: usize = 32 << 10;
    for chunk in all {
        let small = chunk.repeat(N / chunk.len() + 1);
        let large = chunk.repeat(4 * N / chunk.len() + 1);
        let result = linear(
            || {
                std::hint::black_box(scrub_str(&small));
            },
            || {
                std::hint::black_box(scrub_str(&large));
            },
        );
        if let Err(tries) = result {
            panic!(
                "{chunk:?}: {} then {} bytes took {tries}",
                small.len(),
                large.len()
            );
        }
    }
}

/// Text dense in runs of digits (one of two tests, which the harness runs
/// side by side: each about half of the time).
#[test]
fn scrubbing_number_runs_is_linear() {
    text_is_linear(NUMBER_RUNS, false);
}

/// Text dense in what every other rule looks for.
#[test]
fn scrubbing_other_text_is_linear() {
    text_is_linear(OTHER_TEXT, true);
}

/// Items with many strings, all different or all alike (the gate remembers the
/// texts of an item it already scrubbed).
#[test]
fn scrubbing_items_is_linear() {
    let item = |n: usize, distinct: bool| -> Value {
        let crumbs: Vec<Value> = (0..n)
            .map(|i| {
                let k = if distinct { i } else { 0 };
                json!({
                    "message": format!("request {k} to https://api.example.com/v1/x?token=abc{k} from 203.0.113.{}", k % 200),
                    "category": format!("app::module{k}"),
                    "data": {format!("field{k}"): format!("/home/user{k}/file{k}.txt"), "email": "a@b.co"},
                })
            })
            .collect();
        json!({"message": "x", "breadcrumbs": {"values": crumbs}})
    };
    for distinct in [true, false] {
        let (small, large) = (item(1000, distinct), item(4000, distinct));
        let result = linear(
            || {
                let mut v = small.clone();
                std::hint::black_box(scrub_item_json("event", &mut v, false));
            },
            || {
                let mut v = large.clone();
                std::hint::black_box(scrub_item_json("event", &mut v, false));
            },
        );
        if let Err(tries) = result {
            panic!("distinct texts: {distinct}: {tries}");
        }
    }
}

/// Runs of digits: what the phone, card, SSN and IBAN rules look for.
const NUMBER_RUNS: &[&str] = &[
    "1", "1 ", "1-", "1.", "+1", "+1 ", "555-123-", "(555) ", "01 ", "1 2 ", "0170-", "AB12 ",
    "4111 ", "078-05-",
];

/// Everything else: addresses, pairs, tokens, URLs, keys, paths, names.
const OTHER_TEXT: &[&str] = &[
    "a",
    "a:",
    "x ",
    "00:1a:",
    "00-1A-",
    "001a.",
    "001a.2b3c.",
    "\\\\a\\",
    "\\\\srv\\",
    "\\Users\\",
    "hooks.slack.com/",
    "/hooks/aaaaaaaaaaaaaaaaaaaaaaaaa",
    "AccountKey=",
    "sig=aaaaaaaaaaaaaaaaaaaaaa&",
    "Password=a;",
    "PWD={",
    "PWD={a}",
    "discord.com/",
    "jdbc:oracle:thin:",
    "jdbc:oracle:thin:a/",
    "secret access key ",
    "AKIAIOSFODNN7EXAMPLE:",
    "a@",
    "@a.",
    "a@b.co ",
    "a.b@",
    "::",
    "a:1:",
    "1.2.3.4 ",
    "=",
    "a=",
    "password=",
    "password=x ",
    "password: ",
    "\"k\": ",
    "\"password\": \"",
    "'",
    "\\\"",
    "https://",
    "a://b@",
    "?#",
    "eyJ",
    "eyJa.",
    "ghp_",
    "AKIA",
    "xoxb-",
    "sk-1",
    "bearer ",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nAAAA (",
    "-----BEGIN PRIVATE KEY-----\nAAAA.",
    "-----END PRIVATE KEY-----",
    "/home/",
    "/home/a",
    "C:\\Users\\",
    "C:\\Users\\a b",
    "~a",
    "~a/",
    "alice ",
    "alice-laptop.",
    "é",
    "🎉1",
];

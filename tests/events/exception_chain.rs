//! An `error!` with an `error` field becomes an exception with its `source()` chain.
use crate::common;

use std::error::Error;
use std::fmt;

use common::capture::{FLUSH, builder, run, start};

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner(std::num::ParseIntError);

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load the recording")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad frame header")
    }
}
impl Error for Inner {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn error_field_becomes_an_exception_chain() {
    let (telemetry, captured) = start(builder(&[]));
    let parse = "x".parse::<u32>().unwrap_err();
    let err = Outer(Inner(parse));
    run(&telemetry, || {
        tracing::error!(error = &err as &dyn Error, "loading failed");
    });
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    // `error` is Sentry's default level, left out of the JSON.
    assert!(
        event.get("level").is_none_or(|l| l == "error"),
        "{event:#?}"
    );
    assert_eq!(event["message"], "loading failed");
    let values = event["exception"]["values"]
        .as_array()
        .expect("exception values");
    let types: Vec<&str> = values.iter().map(|v| v["type"].as_str().unwrap()).collect();
    let texts: Vec<&str> = values
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    // Sentry lists the innermost cause first, the error raised last.
    assert_eq!(types, ["std::num::ParseIntError", "Inner", "Outer"]);
    assert_eq!(
        texts,
        [
            "invalid digit found in string",
            "bad frame header",
            "could not load the recording"
        ]
    );
    let frames = values[2]["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .unwrap_or("")
            .contains("error_field_becomes_an_exception_chain")),
        "the stack trace reaches the test function: {frames:#?}"
    );
    assert!(
        !frames.iter().any(|f| f["function"]
            .as_str()
            .unwrap_or("")
            .starts_with("openadapt_telemetry::")),
        "the capture machinery is trimmed"
    );
}

#[test]
fn instrument_err_becomes_an_error_event() {
    #[tracing::instrument(err)]
    fn parse_frame(text: &str) -> Result<u32, std::num::ParseIntError> {
        text.parse::<u32>()
    }

    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        let _ = parse_frame("abc");
        let _ = parse_frame("12");
    });
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    assert_eq!(events.len(), 1, "only the Err is reported: {events:#?}");
    let values = events[0]["exception"]["values"]
        .as_array()
        .expect("exception");
    assert_eq!(
        values.last().unwrap()["value"],
        "invalid digit found in string"
    );
    assert_eq!(events[0]["transaction"], "parse_frame");
}

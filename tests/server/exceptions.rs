//! Errors as GlitchTip shows them (issue 12), read back from the Bugsink test server (see `common::bugsink`):
//! GlitchTip drops `threads` and a top-level `stacktrace`, so every stack must be inside
//! `exception.values[*].stacktrace`; one failure is one event; types are real type names.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use std::error::Error;
use std::fmt;
use std::io;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, builder, run};
use openadapt_telemetry::Telemetry;
use serde_json::Value;

/// A text no other run has sent, even to a server kept running across runs (`scripts/test --serve`).
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

/// Flushes `telemetry` and returns the event it sent last, as Bugsink stored it.
fn stored_last_event(bugsink: &Bugsink, telemetry: &Telemetry) -> Value {
    assert!(telemetry.flush(FLUSH), "flush timed out");
    let id = telemetry
        .last_event_id()
        .expect("last_event_id after a flush");
    bugsink
        .event(&id)
        .unwrap_or_else(|| panic!("event {id} never arrived at Bugsink"))
}

/// The stored events of the project that mention `text` anywhere.
fn stored_mentioning(bugsink: &Bugsink, text: &str) -> Vec<Value> {
    bugsink
        .events()
        .into_iter()
        .filter(|e| e.to_string().contains(text))
        .collect()
}

fn values(event: &Value) -> &Vec<Value> {
    event["exception"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no exception.values in {event:#}"))
}

fn types(event: &Value) -> Vec<&str> {
    values(event)
        .iter()
        .map(|v| v["type"].as_str().unwrap_or(""))
        .collect()
}

/// The function names of the frames of the outermost exception (the one GlitchTip titles the issue by).
fn frame_functions(event: &Value) -> Vec<String> {
    values(event).last().unwrap()["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no frames in exception.values[-1].stacktrace: {event:#}"))
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Where GlitchTip would find nothing: `threads`, a top-level `stacktrace`.
fn assert_no_threads(event: &Value) {
    assert!(event.get("threads").is_none(), "threads: {event:#}");
    assert!(
        event.get("stacktrace").is_none(),
        "top-level stacktrace: {event:#}"
    );
}

#[inline(never)]
fn sync_settings(text: &str) {
    tracing::error!("server test: settings sync failed {text}");
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_error_without_an_error_value_has_its_frames_in_the_exception() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let text = unique("no-error-value");
    run(&telemetry, || sync_settings(&text));
    let event = stored_last_event(&bugsink, &telemetry);

    assert_no_threads(&event);
    let values = values(&event);
    assert_eq!(values.len(), 1, "{event:#}");
    let exception = &values[0];
    assert_eq!(
        exception["value"],
        format!("server test: settings sync failed {text}"),
        "{event:#}"
    );
    let ty = exception["type"].as_str().unwrap();
    assert!(
        ty.ends_with("sync_settings"),
        "typed by the function it was logged in: {ty:?}"
    );
    assert_ne!(
        exception["mechanism"]["synthetic"], true,
        "not synthetic: GlitchTip would title it by the function only: {event:#}"
    );
    let frames = frame_functions(&event);
    assert!(
        frames.last().is_some_and(|f| f.ends_with("sync_settings")),
        "the newest frame is the function that logged it: {frames:#?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains("server_an_error_without_an_error_value")),
        "the frames reach its caller: {frames:#?}"
    );

    // Nothing this project stored has `threads` or a top-level stack trace.
    drop(telemetry);
    for event in bugsink.events() {
        assert_no_threads(&event);
    }
    for item in bugsink.envelope_items() {
        if matches!(item.item_type(), "event" | "transaction") {
            assert_no_threads(&item.json());
        }
    }
}

/// A package's error with an `io::Error` behind `source()`.
#[derive(Debug)]
struct ProfileError {
    path: String,
    source: io::Error,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot load profile {}", self.path)
    }
}

impl Error for ProfileError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[tracing::instrument(err)]
fn read_profile(path: &str) -> Result<String, ProfileError> {
    Err(ProfileError {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::NotFound, "no such profile file"),
    })
}

#[tracing::instrument(err)]
fn load_profile(path: &str) -> Result<String, ProfileError> {
    let text = read_profile(path)?;
    Ok(text)
}

#[tracing::instrument(err)]
fn sync_profile(path: &str) -> Result<(), ProfileError> {
    load_profile(path)?;
    Ok(())
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_error_through_three_instrument_err_levels_and_its_caller_is_one_event() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let path = unique("profile");
    run(&telemetry, || {
        if let Err(e) = sync_profile(&path) {
            tracing::error!(error = &e as &dyn Error, "server test: sync failed");
        }
    });
    let event = stored_last_event(&bugsink, &telemetry);
    drop(telemetry); // shutdown: anything still held would be sent now

    let stored = stored_mentioning(&bugsink, &path);
    assert_eq!(
        stored.len(),
        1,
        "four reports of one failure, one event: {stored:#?}"
    );
    assert_eq!(stored[0]["event_id"], event["event_id"]);
    assert_no_threads(&event);
    assert_eq!(event["message"], "server test: sync failed", "{event:#}");
    // The typed chain (from the caller's `dyn Error`), root cause first.
    assert_eq!(
        types(&event),
        ["std::io::Error", "ProfileError"],
        "{event:#}"
    );
    let values = values(&event);
    assert_eq!(values[0]["value"], "no such profile file");
    assert_eq!(
        values[0]["mechanism"]["data"]["kind"], "NotFound",
        "{event:#}"
    );
    assert_eq!(values[1]["value"], format!("cannot load profile {path}"));
    // The innermost stack: it reaches the function that returned the error.
    let frames = frame_functions(&event);
    assert!(
        frames.iter().any(|f| f.ends_with("read_profile")),
        "the innermost frames: {frames:#?}"
    );
    // The spans it crossed, innermost first.
    assert_eq!(
        event["extra"]["spans"],
        serde_json::json!(["read_profile", "load_profile", "sync_profile"]),
        "{event:#}"
    );
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_error_through_three_instrument_err_levels_alone_is_one_event() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let path = unique("profile-alone");
    run(&telemetry, || {
        let _ = sync_profile(&path);
    });
    // Not flushed at once: the reports are held for their callers, then released together.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let event = stored_last_event(&bugsink, &telemetry);
    drop(telemetry);

    let stored = stored_mentioning(&bugsink, &path);
    assert_eq!(stored.len(), 1, "three reports of one failure: {stored:#?}");
    assert_eq!(stored[0]["event_id"], event["event_id"]);
    // `#[instrument(err)]` records Display only: typed by the innermost function, which also has the frames.
    let ty = types(&event).last().copied().unwrap();
    assert!(ty.ends_with("read_profile"), "{event:#}");
    assert_eq!(
        values(&event).last().unwrap()["value"],
        format!("cannot load profile {path}")
    );
    assert!(
        frame_functions(&event)
            .iter()
            .any(|f| f.ends_with("read_profile")),
        "{event:#}"
    );
    assert_eq!(
        event["extra"]["spans"],
        serde_json::json!(["read_profile", "load_profile", "sync_profile"]),
        "{event:#}"
    );
}

#[tracing::instrument(err)]
fn parse_frame_header(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse::<u32>()
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_instrument_err_alone_is_typed_by_its_function() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let text = unique("header");
    run(&telemetry, || {
        let _ = parse_frame_header(&text);
    });
    let event = stored_last_event(&bugsink, &telemetry);
    assert_no_threads(&event);
    // `#[instrument(err)]` records Display only: the type is unknown, so the function names it.
    let ty = types(&event).last().copied().unwrap();
    assert!(ty.ends_with("parse_frame_header"), "{event:#}");
    assert_eq!(
        values(&event).last().unwrap()["value"],
        "invalid digit found in string"
    );
    assert!(
        frame_functions(&event)
            .iter()
            .any(|f| f.ends_with("parse_frame_header")),
        "{event:#}"
    );
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_io_error_is_typed_with_its_kind() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let text = unique("io");
    let error = io::Error::new(io::ErrorKind::PermissionDenied, text.clone());
    run(&telemetry, || {
        tracing::error!(error = &error as &dyn Error, "server test: saving failed");
    });
    let event = stored_last_event(&bugsink, &telemetry);
    assert_eq!(types(&event), ["std::io::Error"], "not `Custom`: {event:#}");
    let exception = &values(&event)[0];
    assert_eq!(exception["value"], text.as_str());
    assert_eq!(exception["mechanism"]["data"]["kind"], "PermissionDenied");
    assert_eq!(exception["mechanism"]["type"], "tracing");
}

fn read_config(path: &str, what: &str) -> anyhow::Result<String> {
    use anyhow::Context as _;
    std::fs::read_to_string(path).with_context(|| format!("reading the config {what}"))
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_anyhow_errors_chain_is_reachable() {
    let bugsink = Bugsink::require();
    let what = unique("anyhow");
    let missing = std::env::temp_dir().join(format!("{what}/telemetry.json"));
    let error = read_config(missing.to_str().unwrap(), &what).unwrap_err();
    // Both forms compile, written inside the macro as a user would.
    for form in ["&*e as &dyn Error", "AsRef::<dyn Error>::as_ref(&e)"] {
        let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
        run(&telemetry, || {
            if form.starts_with("&*") {
                tracing::error!(error = &*error as &dyn Error, "server test: anyhow");
            } else {
                tracing::error!(
                    error = AsRef::<dyn Error>::as_ref(&error),
                    "server test: anyhow"
                );
            }
        });
        let event = stored_last_event(&bugsink, &telemetry);
        let types = types(&event);
        let values = values(&event);
        assert_eq!(
            types.len(),
            2,
            "{form}: the chain through anyhow: {event:#}"
        );
        assert_eq!(types[0], "std::io::Error", "{form}: {event:#}");
        assert_eq!(values[0]["mechanism"]["data"]["kind"], "NotFound", "{form}");
        assert_eq!(values[1]["value"], format!("reading the config {what}"));
        // anyhow's context has no type name of its own (its Debug says `Error`): the function names it.
        assert!(
            types[1].ends_with("server_an_anyhow_errors_chain_is_reachable"),
            "{form}: the wrapper is named by where it was logged: {event:#}"
        );
    }
}

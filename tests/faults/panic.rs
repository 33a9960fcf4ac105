//! A panic in the host program is captured as a fatal event, scrubbed, and sent
//! before the process exits. The host is a child process: this test binary run
//! again with `--exact faults::panic::panic_child` and `PANIC_CHILD_DSN` set.
//!
//! Run with `--nocapture` to see the measured figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::time::Duration;

use common::capture::env;
use common::faults::{Injector, Mode, message};
use openadapt_telemetry::Telemetry;

/// Set in the child only: the DSN of the parent's injector.
const CHILD_ENV: &str = "OPENADAPT_FAULT_PANIC_CHILD_DSN";
const PANIC_MESSAGE: &str = "child failed reading /home/alice/notes.txt for alice@example.com";

/// The child role. In the parent (the variable unset) it does nothing and passes.
#[test]
fn panic_child() {
    let Ok(dsn) = std::env::var(CHILD_ENV) else {
        return;
    };
    let telemetry = Telemetry::builder("openadapt-panic-test", "1.2.3")
        .env_lookup(env(&[("OPENADAPT_TELEMETRY_DSN", &dsn)]))
        .no_config_file()
        .global(false)
        .capture_panics(true)
        .shutdown_timeout(Duration::from_secs(2))
        .init();
    assert!(telemetry.is_enabled());
    // Only the panic hook can send now: the guard's drop will never run.
    std::mem::forget(telemetry);
    panic!("{PANIC_MESSAGE}");
}

#[test]
fn a_panic_is_captured_and_sent_before_the_process_exits() {
    let server = Injector::start(Mode::Healthy);
    let run = common::child::run_self(
        "faults::panic::panic_child",
        &[(CHILD_ENV, &server.dsn())],
        &[],
    );
    let (status, ran) = (run.status, run.ran);
    // Read at once: the hook's flush waits for the server's answer, and the injector
    // records a request before answering it, so the event is here or it was never sent.
    let events = server.events();
    let (stdout, stderr) = (run.stdout, run.stderr);
    eprintln!(
        "[fault] panicking child exited ({status}) after {ran:?}; the injector holds {} event(s), {} request(s)",
        events.len(),
        server.request_count()
    );
    assert!(
        !status.success(),
        "the child must fail: it panicked\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("child failed reading") || stdout.contains("child failed reading"),
        "the previous panic hook ran (the default hook prints the message)\n{stdout}\n{stderr}"
    );

    assert_eq!(
        events.len(),
        1,
        "one event for one panic:\n{stdout}\n{stderr}"
    );
    let event = &events[0];
    assert_eq!(event["level"], "fatal", "{event}");
    let exception = event["exception"]["values"]
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(exception["mechanism"]["type"], "panic", "{event}");
    assert_eq!(exception["mechanism"]["handled"], false, "{event}");
    assert!(message(event).contains("child failed reading"), "{event}");
    let text = event.to_string();
    assert!(
        !text.contains("alice@example.com"),
        "the email was sent: {text}"
    );
    assert!(
        !text.contains("/home/alice/"),
        "the home path was sent: {text}"
    );
}

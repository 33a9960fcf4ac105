//! The guard's drop returns within the shutdown timeout, whatever the server does.
use crate::common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::capture::{builder, run};

const TIMEOUT: Duration = Duration::from_millis(500);
/// Generous: a bound on hangs, not a speed claim.
const SLACK: Duration = Duration::from_secs(1);

fn closed_port_dsn() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://public@{addr}/1")
}

#[test]
fn drop_returns_in_time_with_a_closed_port() {
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &closed_port_dsn())])
        .shutdown_timeout(TIMEOUT)
        .init();
    assert!(telemetry.is_enabled());
    run(&telemetry, || {
        for i in 0..100 {
            tracing::error!(i, "boom {i}");
        }
    });
    let start = Instant::now();
    drop(telemetry);
    assert!(start.elapsed() < TIMEOUT + SLACK, "{:?}", start.elapsed());
}

#[test]
fn drop_and_flush_return_in_time_with_a_silent_server() {
    // Accepts connections and never answers.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let dsn = format!("http://public@{}/1", server.local_addr().unwrap());
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in server.incoming().flatten() {
            held.push(stream);
        }
    });
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &dsn)])
        .shutdown_timeout(TIMEOUT)
        .init();
    run(&telemetry, || {
        for i in 0..1000 {
            tracing::error!(i, "boom {i}");
        }
    });
    let start = Instant::now();
    assert!(!telemetry.flush(TIMEOUT), "nothing can be delivered");
    assert!(
        start.elapsed() < TIMEOUT + SLACK,
        "flush took {:?}",
        start.elapsed()
    );
    let start = Instant::now();
    drop(telemetry);
    assert!(
        start.elapsed() < TIMEOUT + SLACK,
        "drop took {:?}",
        start.elapsed()
    );
}

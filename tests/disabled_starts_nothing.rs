//! Disabled telemetry starts nothing, even with `SENTRY_DSN` in the environment:
//! no sentry client, no thread, no file. One test in this file, so the process
//! is this test's alone and its threads can be counted.
mod common;

use common::capture::{builder, run};

fn telemetry_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        // Linux keeps the first 15 bytes of a thread's name.
        .filter(|name| name.trim() == "openadapt-telem")
        .count()
}

#[test]
fn disabled_with_sentry_dsn_starts_nothing() {
    let dir = std::env::temp_dir().join(format!("oat-disabled-{}", std::process::id()));
    let preview = dir.join("preview.jsonl");
    let vars = [
        ("DO_NOT_TRACK", "1"),
        ("SENTRY_DSN", "https://public@127.0.0.1:9/1"),
        ("OPENADAPT_TELEMETRY_DSN", "https://public@127.0.0.1:9/1"),
        ("OPENADAPT_TELEMETRY_DEBUG_FILE", preview.to_str().unwrap()),
    ];
    let before = telemetry_threads();
    let telemetry = builder(&vars).init();
    assert!(!telemetry.is_enabled());
    run(&telemetry, || {
        tracing::error!("boom");
        let _s = tracing::info_span!("work", feature = "x").entered();
    });
    assert_eq!(telemetry_threads(), before, "no telemetry thread");
    assert!(
        sentry::Hub::current().client().is_none(),
        "no sentry client bound"
    );
    assert!(
        sentry::Hub::main().client().is_none(),
        "no sentry client bound"
    );
    drop(telemetry);
    assert!(!dir.exists(), "no file written");

    // The same with telemetry on does start the thread, so the count above means something.
    let on = builder(&[("OPENADAPT_TELEMETRY_DEBUG_FILE", preview.to_str().unwrap())]).init();
    assert!(on.is_enabled());
    if cfg!(target_os = "linux") {
        // A thread names itself once it runs: give it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while telemetry_threads() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(telemetry_threads(), before + 1);
    }
    drop(on);
}

//! Consent stays in charge of the spool (issue 11, item 8): with telemetry
//! off (`DO_NOT_TRACK=1`, `OPENADAPT_TELEMETRY_ENABLED=false`, the config
//! file) nothing is written to the spool (its folder is not even created) and
//! nothing in it is sent or touched; preview mode never writes to it either,
//! not even on an exit path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::capture::{env, run};
use common::faults::{Injector, Mode};
use common::spool::{CHILD_BOUND, DIR, DSN, ROLE, TempDir, child_setup, role};
use openadapt_telemetry::{Telemetry, TelemetryBuilder};
use within::run_self_within;

/// A builder with `vars` as its whole environment, spooling in `spool`.
fn builder_with(vars: &[(&str, &str)], spool: &Path) -> TelemetryBuilder {
    Telemetry::builder("openadapt-spool-test", "1.0.0")
        .env_lookup(env(vars))
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .spool_dir(spool)
}

/// Logs what would be spooled: errors, a feature, a span.
fn log_everything(telemetry: &Telemetry) {
    run(telemetry, || {
        let _span = tracing::info_span!("work", feature = "spool.consent").entered();
        for i in 0..5 {
            tracing::error!("consent check {i}");
        }
    });
}

/// Every path under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let meta = entry.metadata().unwrap();
        out.push((
            entry.path(),
            std::fs::read(entry.path()).unwrap_or_default(),
            meta.modified().unwrap(),
        ));
    }
    out.sort();
    out
}

/// A spool holding what an earlier offline run left.
fn earlier_run(server: &Injector, spool: &Path) {
    let telemetry = common::spool::builder(&server.dsn(), spool).init();
    log_everything(&telemetry);
    // Settled before the guard's drop, as a run that ended: the drop returns
    // after its shutdown timeout, and the worker it leaves behind in this
    // process could still be writing the spool (in a process of its own, the
    // first stack trace takes 0.1 to 0.3 s to read, after a copy without it).
    assert!(telemetry.flush(Duration::from_secs(10)));
    drop(telemetry);
    assert!(
        common::spool::envelope_names(spool).len() >= 5,
        "the earlier run spooled its errors"
    );
}

#[test]
fn telemetry_off_creates_no_spool_and_sends_nothing() {
    let server = Injector::start(Mode::Healthy);
    let dsn = server.dsn();
    for off in [
        ("DO_NOT_TRACK", "1"),
        ("DO_NOT_TRACK", "true"),
        ("OPENADAPT_TELEMETRY_ENABLED", "false"),
    ] {
        let root = TempDir::new("consent-off");
        let spool = root.spool();
        let telemetry = builder_with(&[("OPENADAPT_TELEMETRY_DSN", &dsn), off], &spool).init();
        assert!(!telemetry.is_enabled(), "{off:?}");
        log_everything(&telemetry);
        assert!(telemetry.flush(Duration::from_secs(1)));
        drop(telemetry);
        assert!(
            !root.path.exists(),
            "{off:?}: no folder created on the way to the spool"
        );
    }
    // The default place, under an injected cache folder.
    let root = TempDir::new("consent-default");
    std::fs::create_dir_all(&root.path).unwrap();
    let cache = root.path.join("xdg-cache");
    let telemetry = Telemetry::builder("openadapt-spool-test", "1.0.0")
        .env_lookup(env(&[
            ("OPENADAPT_TELEMETRY_DSN", &dsn),
            ("DO_NOT_TRACK", "1"),
            ("XDG_CACHE_HOME", cache.to_str().unwrap()),
            ("HOME", root.path.to_str().unwrap()),
        ]))
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .init();
    assert!(!telemetry.is_enabled());
    log_everything(&telemetry);
    drop(telemetry);
    assert!(!cache.exists(), "no cache folder created");
    assert_eq!(server.request_count(), 0, "nothing sent");
}

#[test]
fn telemetry_off_leaves_a_full_spool_untouched() {
    let mut server = Injector::start(Mode::Healthy);
    server.stop();
    let root = TempDir::new("consent-full");
    let spool = root.spool();
    earlier_run(&server, &spool);
    let before = snapshot(&spool);
    let folder_before = std::fs::metadata(&spool).unwrap().modified().unwrap();
    server.restart();

    let config = root.path.join("telemetry.json");
    std::fs::write(&config, r#"{"enabled": false}"#).unwrap();
    let dsn = server.dsn();
    let builders: Vec<(&str, TelemetryBuilder)> = vec![
        (
            "DO_NOT_TRACK=1",
            builder_with(
                &[("OPENADAPT_TELEMETRY_DSN", &dsn), ("DO_NOT_TRACK", "1")],
                &spool,
            ),
        ),
        (
            "OPENADAPT_TELEMETRY_ENABLED=false",
            builder_with(
                &[
                    ("OPENADAPT_TELEMETRY_DSN", &dsn),
                    ("OPENADAPT_TELEMETRY_ENABLED", "false"),
                ],
                &spool,
            ),
        ),
        (
            "config file",
            builder_with(&[("OPENADAPT_TELEMETRY_DSN", &dsn)], &spool).config_file(&config),
        ),
    ];
    for (why, builder) in builders {
        let telemetry = builder.init();
        assert!(!telemetry.is_enabled(), "{why}");
        log_everything(&telemetry);
        assert!(telemetry.flush(Duration::from_secs(1)));
        drop(telemetry);
        assert_eq!(snapshot(&spool), before, "{why}: the spool is untouched");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(snapshot(&spool), before);
    assert_eq!(
        std::fs::metadata(&spool).unwrap().modified().unwrap(),
        folder_before,
        "nothing was added to the folder or removed from it"
    );
    assert_eq!(server.request_count(), 0, "nothing sent from the spool");
}

#[test]
fn preview_never_writes_to_the_spool() {
    let server = Injector::start(Mode::Healthy);
    let dsn = server.dsn();
    let root = TempDir::new("consent-preview");
    std::fs::create_dir_all(&root.path).unwrap();
    let preview_file = root.path.join("preview.jsonl");
    let spool = root.spool();
    let builders: Vec<(&str, TelemetryBuilder)> = vec![
        (
            "preview(true)",
            builder_with(&[("OPENADAPT_TELEMETRY_DSN", &dsn)], &spool).preview(true),
        ),
        (
            "OPENADAPT_TELEMETRY_DEBUG_FILE",
            builder_with(
                &[
                    ("OPENADAPT_TELEMETRY_DSN", &dsn),
                    (
                        "OPENADAPT_TELEMETRY_DEBUG_FILE",
                        preview_file.to_str().unwrap(),
                    ),
                ],
                &spool,
            ),
        ),
    ];
    for (why, builder) in builders {
        let telemetry = builder.init();
        assert!(telemetry.is_enabled(), "{why}");
        log_everything(&telemetry);
        assert!(telemetry.flush(Duration::from_secs(10)));
        drop(telemetry);
        assert!(!spool.exists(), "{why}: no spool folder");
    }
    let previewed = std::fs::read_to_string(&preview_file).unwrap_or_default();
    assert!(
        previewed.contains("consent check 4"),
        "the preview shows what would be sent"
    );
    assert_eq!(server.request_count(), 0, "a preview sends nothing");
}

/// The child role of [`preview_never_writes_to_the_spool_on_exit`].
#[test]
fn consent_child() {
    let Some(role) = role() else {
        return;
    };
    assert_eq!(role, "preview-exit");
    let (dsn, dir, _) = child_setup();
    let telemetry = builder_with(&[("OPENADAPT_TELEMETRY_DSN", &dsn)], &dir)
        .preview(true)
        .init();
    assert!(telemetry.is_enabled());
    log_everything(&telemetry);
    std::process::exit(1);
}

#[test]
fn preview_never_writes_to_the_spool_on_exit() {
    let server = Injector::start(Mode::Healthy);
    let root = TempDir::new("consent-preview-exit");
    let run = run_self_within(
        "spool::consent::consent_child",
        &[
            (ROLE, "preview-exit"),
            (DSN, &server.dsn()),
            (DIR, &root.spool_text()),
        ],
        CHILD_BOUND,
    );
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("[telemetry] "),
        "the preview printed what it had: {}",
        run.describe()
    );
    assert!(!root.path.exists(), "no spool folder");
    assert_eq!(server.request_count(), 0);
}

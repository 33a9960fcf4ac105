//! `openadapt-telemetry preview`: a demonstration through the real layer,
//! client and privacy gate, printed and never sent.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;

use cli_support::{Sandbox, text};

#[test]
fn shows_each_kind_of_item_after_redaction_and_sends_nothing() {
    let sandbox = Sandbox::new("preview");
    // a DSN that must not be used: preview never sends
    let dsn = cli_support::closed_port_dsn();
    let run = sandbox
        .run(&["preview"], &[("OPENADAPT_TELEMETRY_DSN", &dsn)])
        .expect_code(0);
    let out = &run.stdout;
    assert!(out.contains("Nothing was sent."), "{out}");
    assert!(
        out.contains("What would be sent (3 items, after the privacy gate):"),
        "{out}"
    );
    assert!(
        out.contains("1. an error event, with its cause and the breadcrumbs before it"),
        "{out}"
    );
    assert!(
        out.contains("2. a performance transaction (span \"export_report\")"),
        "{out}"
    );
    assert!(
        out.contains("3. a feature-usage event (\"preview.export\")"),
        "{out}"
    );
    // the planted personal data is redacted, the rest survives
    let home = text(&sandbox.root.join("home")).to_owned();
    assert!(!out.contains("alice@example.com"), "{out}");
    assert!(out.contains("permission denied for [email]"), "{out}");
    assert!(!out.contains(&format!("{home}/Documents")), "{out}");
    assert!(out.contains("<home>/Documents/report.pdf"), "{out}");
    assert!(!out.contains("sk-demo-0123456789abcdef"), "{out}");
    assert!(out.contains(r#""api_key": "[Filtered]""#), "{out}");
    assert!(out.contains(r#""level": "warning""#), "{out}");
    assert!(
        out.contains(r#""message": "disk almost full, retrying""#),
        "{out}"
    );
    assert!(out.contains(r#""message": "export failed""#), "{out}");
    assert!(out.contains(r#""feature": "preview.export""#), "{out}");
    assert!(out.contains(r#""package": "openadapt-telemetry""#), "{out}");
    // nothing is written to the config folder: no anonymous id in preview
    assert!(!sandbox.config_dir().exists());
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn works_while_telemetry_is_off_and_says_so() {
    let sandbox = Sandbox::new("preview-off");
    sandbox.write_config(r#"{"enabled": false, "traces_sample_rate": 0.0}"#);
    let run = sandbox
        .run(
            &["preview"],
            &[
                ("DO_NOT_TRACK", "1"),
                ("OPENADAPT_TELEMETRY_DEBUG", "nonsense"),
            ],
        )
        .expect_code(0);
    assert!(
        run.stdout
            .contains("Telemetry is off here (DO_NOT_TRACK=1): none of this would be sent."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(3 items"), "{}", run.stdout);
    assert_eq!(sandbox.config_dir_names(), ["telemetry.json"]);
}

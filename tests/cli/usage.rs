//! The command line itself: `--help` for every command, `--version`, and a
//! one-line error with exit code 2 for anything it does not know.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;

use cli_support::Sandbox;

const COMMANDS: [&str; 6] = [
    "status",
    "enable",
    "disable",
    "preview",
    "send-test",
    "reset-id",
];

#[test]
fn help_lists_every_command_and_what_is_collected() {
    let sandbox = Sandbox::new("usage-help");
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let run = sandbox.run(args, &[]).expect_code(0);
        assert!(run.stdout.contains("Usage: openadapt-telemetry <COMMAND>"));
        for command in COMMANDS {
            assert!(run.stdout.contains(&format!("\n  {command} ")), "{command}");
        }
        assert!(run.stdout.contains(openadapt_telemetry::TELEMETRY_HELP));
        assert!(run.stderr.is_empty());
    }
    // help does nothing else
    assert!(!sandbox.config_dir().exists());
}

#[test]
fn every_command_has_its_help_and_does_nothing_with_it() {
    let sandbox = Sandbox::new("usage-command-help");
    for command in COMMANDS {
        let usage = format!("Usage: openadapt-telemetry {command}");
        for args in [
            vec![command, "--help"],
            vec![command, "-h"],
            vec!["help", command],
        ] {
            let run = sandbox.run(&args, &[]).expect_code(0);
            assert!(run.stdout.starts_with(&usage), "{args:?}: {}", run.stdout);
            assert!(run.stderr.is_empty(), "{args:?}: {}", run.stderr);
        }
    }
    assert!(!sandbox.config_dir().exists());
}

#[test]
fn version() {
    let sandbox = Sandbox::new("usage-version");
    let run = sandbox.run(&["--version"], &[]).expect_code(0);
    assert_eq!(
        run.stdout,
        format!("openadapt-telemetry {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_commands_and_arguments_are_one_line_and_exit_2() {
    let sandbox = Sandbox::new("usage-unknown");
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "a command is required: status, enable, disable, preview, send-test or reset-id (see openadapt-telemetry --help)",
        ),
        (
            &["stats"],
            "unknown command \"stats\": expected status, enable, disable, preview, send-test or reset-id (see openadapt-telemetry --help)",
        ),
        (&["help", "stats"], "unknown command \"stats\""),
        (
            &["--json"],
            "unknown option \"--json\" (see openadapt-telemetry --help)",
        ),
        (
            &["status", "--verbose"],
            "unexpected argument \"--verbose\" for status (see openadapt-telemetry status --help)",
        ),
        (&["status", "now"], "unexpected argument \"now\" for status"),
        (
            &["enable", "--json"],
            "unexpected argument \"--json\" for enable",
        ),
        (
            &["disable", "--delete"],
            "unexpected argument \"--delete\" for disable",
        ),
        (
            &["preview", "--force"],
            "unexpected argument \"--force\" for preview",
        ),
        (
            &["reset-id", "--force"],
            "unexpected argument \"--force\" for reset-id",
        ),
        (&["send-test", "--dsn"], "--dsn needs a value: --dsn URL"),
        (
            &["send-test", "--dsn", "https://secretkey@"],
            "invalid --dsn \"https://***@\": expected a DSN like https://KEY@HOST/PROJECT_ID",
        ),
    ];
    for (args, message) in cases {
        let run = sandbox.run(args, &[]).expect_code(2);
        assert!(
            run.stderr
                .starts_with(&format!("openadapt-telemetry: {message}")),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("secretkey"));
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert!(!sandbox.config_dir().exists());
}

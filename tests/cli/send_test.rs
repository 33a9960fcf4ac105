//! `openadapt-telemetry send-test`: one test event to the configured DSN, the
//! server's answer reported, exit code 0 only when it was accepted.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;
use crate::common;

use cli_support::{Sandbox, closed_port_dsn};
use common::bugsink::Bugsink;
use common::faults::{Injector, Mode};

#[test]
fn a_closed_port_is_unreachable() {
    let sandbox = Sandbox::new("send-closed");
    let dsn = closed_port_dsn();
    let port = dsn.rsplit(':').next().unwrap().trim_end_matches("/1");
    for (args, env) in [
        (vec!["send-test", "--dsn", dsn.as_str()], vec![]),
        (
            vec!["send-test"],
            vec![("OPENADAPT_TELEMETRY_DSN", dsn.as_str())],
        ),
    ] {
        let run = sandbox.run(&args, &env).expect_code(1);
        assert!(
            run.stdout.starts_with(&format!(
                "Sending a test event to 127.0.0.1:{port}, project 1 ("
            )),
            "{run:#?}"
        );
        assert!(run.stdout.contains("\nunreachable: "), "{run:#?}");
        assert!(!run.stdout.contains("closedportkey"), "{run:#?}");
    }
}

#[test]
fn a_redirect_is_never_followed_and_exits_1() {
    let sandbox = Sandbox::new("send-redirect");
    for status in [301, 302, 303, 307, 308] {
        let other = Injector::start(Mode::Healthy);
        let server = Injector::start(Mode::Status(
            status,
            vec![(
                "Location".into(),
                format!("http://{}/api/1/envelope/", other.addr()),
            )],
        ));
        let run = sandbox
            .run(&["send-test", "--dsn", &server.dsn()], &[])
            .expect_code(1);
        assert!(
            run.stdout
                .contains("\nredirected to another host; check the DSN"),
            "HTTP {status}: {run:#?}"
        );
        assert!(!run.stdout.contains("accepted"), "{run:#?}");
        assert_eq!(server.request_count(), 1, "HTTP {status}: {run:#?}");
        assert_eq!(
            other.connections(),
            0,
            "HTTP {status}: the key went to the other host: {:#?}",
            other.requests()
        );
    }
}

#[test]
fn the_dsn_flag_beats_the_variable_and_the_file() {
    let sandbox = Sandbox::new("send-flag");
    sandbox.write_config(r#"{"dsn": "http://filekey@127.0.0.1:1/7"}"#);
    let dsn = closed_port_dsn();
    let run = sandbox.run(&["send-test"], &[]).expect_code(1);
    assert!(
        run.stdout.starts_with(&format!(
            "Sending a test event to 127.0.0.1:1, project 7 (config file {})",
            sandbox.config_file().display()
        )),
        "{run:#?}"
    );
    let run = sandbox
        .run(
            &["send-test", "--dsn", &dsn],
            &[("OPENADAPT_TELEMETRY_DSN", "http://envkey@127.0.0.1:2/8")],
        )
        .expect_code(1);
    // the flag is named as the DSN's source, not the variable it beat
    assert!(run.stdout.contains(", project 1 (--dsn)"), "{run:#?}");
}

#[test]
fn nothing_is_sent_without_a_dsn_or_while_off() {
    let sandbox = Sandbox::new("send-none");
    let run = sandbox.run(&["send-test"], &[]).expect_code(1);
    assert_eq!(
        run.stderr,
        "openadapt-telemetry: no DSN configured: pass --dsn URL, or set OPENADAPT_TELEMETRY_DSN or \"dsn\" in the config file\n"
    );
    let dsn = closed_port_dsn();
    let run = sandbox
        .run(&["send-test", "--dsn", &dsn], &[("DO_NOT_TRACK", "1")])
        .expect_code(1);
    assert_eq!(
        run.stderr,
        "openadapt-telemetry: telemetry is off (DO_NOT_TRACK=1): nothing was sent\n"
    );
    assert_eq!(run.stdout, "");
    // never while off: no anonymous id was made
    assert!(!sandbox.id_file().exists());
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn the_real_server_accepts_it_with_the_anonymous_id() {
    let bugsink = Bugsink::require();
    let sandbox = Sandbox::new("send-bugsink");
    sandbox.write_config(&serde_json::json!({ "dsn": bugsink.dsn }).to_string());
    let run = sandbox.run(&["send-test"], &[]).expect_code(0);
    let accepted = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("accepted: the server took the test event (event id "))
        .unwrap_or_else(|| panic!("{run:#?}"));
    let event_id = accepted.trim_end_matches(')');
    let id = std::fs::read_to_string(sandbox.id_file()).unwrap();
    let id = id.trim();
    assert!(
        run.stdout
            .contains(&format!("It carried the anonymous id {id}.")),
        "{run:#?}"
    );
    let event = bugsink
        .event(event_id)
        .unwrap_or_else(|| panic!("event {event_id} not stored"));
    assert_eq!(
        event["message"], "openadapt-telemetry test event",
        "{event:#}"
    );
    assert_eq!(event["level"], "info");
    assert_eq!(event["user"], serde_json::json!({ "id": id }), "{event:#}");
    assert_eq!(event["tags"]["package"], "openadapt-telemetry");
    assert!(!event.to_string().contains(bugsink.public_key()));

    // a wrong key: refused with the HTTP status
    let wrong = bugsink
        .dsn
        .replacen(bugsink.public_key(), "0123456789abcdef0123456789abcdef", 1);
    let run = sandbox
        .run(&["send-test", "--dsn", &wrong], &[])
        .expect_code(1);
    assert!(
        run.stdout.contains("\nrefused: the server answered HTTP 4"),
        "{run:#?}"
    );
}

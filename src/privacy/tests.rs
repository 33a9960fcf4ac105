//! Tests of the whole value pipeline (`Scrubber::scrub_str`), the local identity
//! rules and the counts.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::*;

fn local(home: &str, user: &str, host: &str) -> Scrubber {
    Scrubber::new(Local {
        home: Some(home.to_owned()),
        user: Some(user.to_owned()),
        host: Some(host.to_owned()),
    })
}

/// The scrubber of a machine whose user is `alice`: the one every privacy
/// test module uses.
pub(super) fn alice() -> Scrubber {
    local("/home/alice", "alice", "alice-laptop.corp.example")
}

fn scrub(s: &Scrubber, text: &str) -> String {
    s.scrub_str(text, &mut Redactions::default()).into_owned()
}

#[test]
fn must_survive() {
    let s = alice();
    for text in [
        "std::io::Error",
        "ParseIntError { kind: InvalidDigit }",
        "core::num::ParseIntError",
        "openadapt_capture::record::start",
        "<alloc::boxed::Box<dyn core::error::Error> as core::fmt::Debug>::fmt",
        "Add::add",
        "f64::EPSILON",
        "src/layer.rs:42",
        "src/layer.rs:42:7",
        "src/layer.rs",
        "/home/<user>/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs",
        "capture.record",
        "0.49.5",
        "1.95.0",
        "v1.2.3.4",
        "linux",
        "x86_64",
        "aarch64-apple-darwin",
        "6.1.0-18-amd64",
        "10.0.22631",
        "2024-01-15T10:30:00Z",
        "2024-01-15T10:30:00.123456+02:00",
        "550e8400-e29b-41d4-a716-446655440000",
        "550e8400e29b41d4a716446655440000",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "e83c5163316f89bfbde7d9ab23ca2e25604af290",
        "took 1.234567s",
        "elapsed 350ms",
        "1234567",
        "4242",
        "order 4111111111111112 shipped",
        "ts 1705312200123",
        "connection refused (os error 111) at 127.0.0.1:8000",
        "listening on [::1]:3000 and 0.0.0.0:80",
        "retry 3/5 after 250 ms",
        "session_count=4 token_count=1200",
        "at src/auth.rs:42 and src/session/token.rs:7:13",
        "panicked at ip.rs:10:5, password.py:3",
        "author: Jane",
        "oauth_provider=github",
        "the bearer authentication scheme",
        "~/code/app",
        "root cause: timeout",
        "run by root",
        "",
        "日本語のテキスト ✓ émoji 🎉",
        // Numbers that look like national phone numbers and are not.
        "2026-11-28 and 28.11.2026 at 12:34:56, build 10.0.19045 (1.2.3)",
        "order 5551234567, 555 123 4567 items, port 5432, took 00:01:02.345",
        "ids 12345678-1234-4123-8123-123456789012 and 1234-5678-9012",
        "kernel 6.8.0-45-generic, build 10.0.22631.3155, 127.0.0.1:5432",
        // Look-alikes of MAC addresses, webhooks, connection strings, cloud keys
        // and UNC paths.
        "at 12:34:56, bytes de:ad:be:ef, dump 00:11:22:33:44:55:66:77:88:99:aa:bb, 1234.5678.9012",
        "see https://api.slack.com/messaging/webhooks and https://discord.com/channels/1/2",
        "Server=db;Database=app;AccountName=acme;EndpointSuffix=core.windows.net",
        "got sig=SIGTERM from .git/hooks/pre-commit",
        r"copied \\fileserver\builds\app.exe and \\.\pipe\openadapt",
    ] {
        let got = s.scrub_str(text, &mut Redactions::default());
        assert!(matches!(got, Cow::Borrowed(_)), "{text:?} became {got:?}");
    }
}

#[test]
fn planted_secrets_are_replaced() {
    let s = alice();
    let cases = [
        ("mail alice@example.com", "mail [email]"),
        ("/home/alice/code/main.rs", "/home/<user>/code/main.rs"),
        ("/home/bob/x", "/home/<user>/x"),
        ("alice ran it on alice-laptop", "<user> ran it on <host>"),
        ("host alice-laptop.corp.example", "host <host>"),
        ("ALICE-LAPTOP", "<host>"),
        ("from 203.0.113.7", "from [ip]"),
        ("peer 2001:db8::1", "peer [ip]"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("ssn 078-05-1120", "ssn [ssn]"),
        ("call +1 415 555 2671", "call [phone]"),
        ("Call 555-123-4567", "Call [phone]"),
        ("(555) 123-4567", "[phone]"),
        ("555.123.4567", "[phone]"),
        ("+1 555 123 4567", "[phone]"),
        (
            "ring 020 7946 0958 or 01 23 45 67 89",
            "ring [phone] or [phone]",
        ),
        // An international number right before a national one does not take
        // the national one's area code.
        ("+44 20 7946 0958 555-123-4567", "[phone] [phone]"),
        ("+1 (555) 123-4567", "+1 [phone]"),
        ("+1-555-123-4567", "[phone]"),
        ("nic 01-23-45-67-89-ab", "nic [mac]"),
        // Only a Cisco MAC address in the text, or a webhook without a scheme
        // (no `:`): the gates still let the rules run.
        ("nic 001a.2b3c.4d5e", "nic [mac]"),
        (
            "posting to hooks.slack.com/services/T0/B0/xyz",
            "posting to hooks.slack.com/[webhook]",
        ),
        ("iban GB82 WEST 1234 5698 7654 32", "iban [iban]"),
        (
            "Authorization: Bearer abc123def456",
            "Authorization: [Filtered]",
        ),
        ("sent Bearer abc123def456", "sent Bearer [Filtered]"),
        (
            "https://u:p@host/a?token=x",
            "https://[Filtered]@host/a?[Filtered]",
        ),
        ("password=hunter2", "password=[Filtered]"),
        ("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "[api-key]"),
        ("AKIAIOSFODNN7EXAMPLE", "[api-key]"),
        (
            "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "[api-key]",
        ),
        ("AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "[api-key]"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "[jwt]"),
        (
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
            "[private-key]",
        ),
        ("git@github.com:alice/repo.git", "[email]:<user>/repo.git"),
        // Escaped line breaks and tabs (`Debug`, JSON in a string) are boundaries.
        (
            r"line\n203.0.113.7\t4111111111111111\n/home/bob/x\npassword=hunter2\r~carol/y",
            r"line\n[ip]\t[card]\n/home/<user>/x\npassword=[Filtered]\r~<user>/y",
        ),
        (
            r#"password: Some(\"hunter2\")"#,
            r#"password: Some(\"[Filtered]\")"#,
        ),
        ("password: Some(hunter2)", "password: Some([Filtered])"),
        // A value another rule rewrote only in part is filtered whole.
        ("password=203.0.113.7:hunter2", "password=[Filtered]"),
        (r#"auth=password="hunter 2" ok"#, "auth=[Filtered] ok"),
        ("password: auth: hunter2 ok", "password: [Filtered] ok"),
        (
            r#"password=apiKey: Some("hunter 2") ok"#,
            "password=[Filtered]) ok",
        ),
        // A secret of several words after a sensitive key is found whole.
        ("password: +44 20 7946 0958", "password: [phone]"),
        ("password: 4111 1111 1111 1111", "password: [card]"),
        ("secret: GB82 WEST 1234 5698 7654 32", "secret: [iban]"),
        // Text glued to the run or the candidate does not hide the secret.
        ("v1.2.3 4111111111111111", "v1.2.3 [card]"),
        ("AB12 GB82WEST12345698765432", "AB12 [iban]"),
        (
            "call +1 415 555 2671. 2024-01-15",
            "call [phone]. 2024-01-15",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(scrub(&s, input), want, "{input}");
    }
}

#[test]
fn home_directory_policy() {
    let root = local("/root", "root", "3f2a9c1b7d4e");
    assert_eq!(
        scrub(
            &root,
            "/root/.cargo/registry/src/index.crates.io-xxx/sentry-core-0.49.5/src/hub.rs"
        ),
        "<home>/.cargo/registry/src/index.crates.io-xxx/sentry-core-0.49.5/src/hub.rs"
    );
    // "root" is a generic account name: not replaced as a word.
    assert_eq!(
        scrub(&root, "root cause, run by root"),
        "root cause, run by root"
    );
    // A container's host name is replaced.
    assert_eq!(scrub(&root, "on 3f2a9c1b7d4e"), "on <host>");
    let service = local("/var/lib/alice", "alice", "box");
    assert_eq!(
        scrub(&service, "at /var/lib/alice/app.rs"),
        "at <home>/app.rs"
    );
    assert_eq!(scrub(&service, "alice"), "<user>");
    // Short names are not replaced as words.
    let short = local("/home/al", "al", "pc");
    assert_eq!(scrub(&short, "al on pc"), "al on pc");
    assert_eq!(scrub(&short, "/home/al/x"), "/home/<user>/x");
    // Nothing known about the machine: generic rules still apply.
    let unknown = Scrubber::new(Local::default());
    assert_eq!(scrub(&unknown, "/Users/zoe/x"), "/Users/<user>/x");
    assert_eq!(scrub(&unknown, "zoe"), "zoe");
    let windows = local(r"C:\Users\Zoë", "Zoë", "DESKTOP-AB12CD3");
    assert_eq!(
        scrub(&windows, r"c:\users\zoë\AppData on DESKTOP-AB12CD3 by ZOË"),
        r"c:\users\<user>\AppData on <host> by <user>"
    );
}

#[test]
fn sanitize_path_changes_only_paths() {
    let s = alice();
    let mut counts = Redactions::default();
    let text = "alice@example.com /home/alice/x ~bob/y 203.0.113.7";
    assert_eq!(
        s.sanitize_path(text, &mut counts),
        "alice@example.com /home/<user>/x ~<user>/y 203.0.113.7"
    );
    assert_eq!(counts.to_json(), serde_json::json!({"path_user": 2}));
    let root = local("/root", "root", "h");
    assert_eq!(
        root.sanitize_path("/root/x", &mut Redactions::default()),
        "<home>/x"
    );
    assert!(matches!(
        s.sanitize_path("src/main.rs", &mut counts),
        Cow::Borrowed(_)
    ));
}

#[test]
fn counts_per_rule() {
    let s = alice();
    let mut counts = Redactions::default();
    let out = s.scrub_str(
        "a@b.io c@d.io /home/x/y from 203.0.113.7 as alice",
        &mut counts,
    );
    assert_eq!(out, "[email] [email] /home/<user>/y from [ip] as <user>");
    assert_eq!(
        counts.to_json(),
        serde_json::json!({"email": 2, "path_user": 1, "ip": 1, "user_name": 1})
    );
    assert_eq!(counts.total(), 5);
    assert!(!counts.is_empty());
    let mut sum = Redactions::default();
    assert!(sum.is_empty());
    sum.add(&counts);
    sum.add(&counts);
    assert_eq!(sum.get(Rule::Email), 4);
    assert_eq!(sum.total(), 10);
    assert_eq!(Redactions::default().to_json(), serde_json::json!({}));
}

#[test]
fn rules_are_indexed_in_order() {
    for (i, rule) in Rule::ALL.iter().enumerate() {
        assert_eq!(*rule as usize, i, "{rule:?}");
    }
    let mut names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Rule::ALL.len());
}

#[test]
fn local_detection_sources() {
    let env = |name: &str| match name {
        "USERNAME" => Some("bob".to_owned()),
        "USER" => Some("  ".to_owned()),
        "HOSTNAME" => Some("env-host".to_owned()),
        _ => None,
    };
    let no_files = |_: &str| None;
    let l = Local::from_sources(&env, Some("/home/bob".to_owned()), &no_files);
    assert_eq!(l.user.as_deref(), Some("bob"));
    assert_eq!(l.host.as_deref(), Some("env-host"));
    assert_eq!(l.home.as_deref(), Some("/home/bob"));
    let files = |path: &str| (path == "/etc/hostname").then(|| "file-host\n".to_owned());
    let l = Local::from_sources(&env, None, &files);
    assert_eq!(l.host.as_deref(), Some("file-host"));
    assert_eq!(l.home, None);
    let l = Local::from_sources(&|_| None, Some(String::new()), &no_files);
    assert_eq!((l.home, l.user, l.host), (None, None, None));
    // The real detection runs and never fails.
    let _ = Local::detect();
}

#[test]
fn public_functions_use_the_process_scrubber() {
    assert_eq!(scrub_str("x@example.com"), "[email]");
    assert_eq!(sanitize_path("/home/someone/x"), "/home/<user>/x");
    assert!(is_sensitive_key("apiKey"));
    assert!(!is_sensitive_key("author"));
}

#[test]
fn never_panics_on_odd_text() {
    let s = alice();
    let odd = [
        "@",
        ":",
        "::",
        ":::",
        "=",
        "==",
        "\"",
        "\\",
        "\\\"",
        "+",
        "~",
        "/",
        "-----BEGIN PRIVATE KEY-----",
        "eyJ",
        "eyJ.eyJ.",
        "password=",
        "password:\"",
        "password=\"unterminated",
        "'key': '",
        "Some(\"",
        "https://",
        "https://@",
        "://x",
        "/home/",
        "C:\\Users\\",
        "~é/",
        "é@é.éé",
        "+١٢٣٤٥٦٧٨٩٠",
        "４１１１ １１１１ １１１１ １１１１",
        "\u{0}\u{1}\u{7f}",
        "ß=ü",
        "ключ: значение",
        "password=🎉🎉",
        "\"пароль\": \"x\"",
        "a\u{200b}@b.co",
        "1.2.3.",
        ".1.2.3.4",
        "\\\\",
        "\\\\?\\",
        "\\\\a\\",
        "PWD={",
        "PWD={}}",
        "Password=;",
        ";password=",
        "sig=",
        "AccountKey=",
        "00:1a:2b:3c:4d:5e:",
        ":00:1a:2b:3c:4d:5e",
        "001a.2b3c.4d5e.",
        "hooks.slack.com/",
        "discord.com/api/webhooks",
        "jdbc:oracle:thin:/@",
        "(0",
        "(555)",
        "1-",
        "0-",
    ];
    for text in odd {
        let _ = s.scrub_str(text, &mut Redactions::default());
        let _ = s.sanitize_path(text, &mut Redactions::default());
    }
    // Every prefix of a text full of rules and multibyte characters.
    let rich = "é alice@example.com 🎉 /home/bob/x ‖ password=\"ü\" 4111 1111 1111 1111 +44 20 7946 0958 2001:db8::1 ~carol/ Bearer abcdefgh1";
    for (i, _) in rich.char_indices() {
        let _ = s.scrub_str(&rich[..i], &mut Redactions::default());
        let _ = s.scrub_str(&rich[i..], &mut Redactions::default());
    }
}

/// Scrubbing text dense in this machine's names (alice's home folder, user
/// name and host name) is linear: 32 then 128 KiB of each chunk must take well
/// under 16 times as long (what a quadratic pass would take). A ratio of sizes,
/// not an absolute bound: a loaded machine is slow, not quadratic. The rules
/// that need no machine names are held in `tests/privacy_linear.rs`.
#[test]
fn large_inputs_with_machine_names_are_linear() {
    let s = alice();
    let time = |text: &str| {
        let start = Instant::now();
        let _ = s.scrub_str(text, &mut Redactions::default());
        start.elapsed()
    };
    for chunk in [
        "alice ",
        "alice-laptop.",
        "alice-laptop.corp.example ",
        "/home/alice/x ",
        "~alice/",
        "~a/",
        "/home/",
        "a",
        "al",
        "a=",
        "a:",
    ] {
        let small = chunk.repeat((32 << 10) / chunk.len());
        let big = chunk.repeat((128 << 10) / chunk.len());
        // The faster of two runs of the small text (noise there would hide
        // growth); noise in the big one only fails a try, and three are made.
        let mut tries = Vec::new();
        let linear = (0..3).any(|_| {
            let t_small = time(&small).min(time(&small));
            let t_big = time(&big);
            tries.push((t_small, t_big));
            // Below a millisecond the clock says nothing about the growth.
            t_big < t_small * 9 + Duration::from_millis(1)
        });
        assert!(
            linear,
            "{chunk:?}: 4x the text took 9x the time or more: {tries:?}"
        );
    }
}

#[test]
fn unchanged_text_is_borrowed() {
    let s = alice();
    let text = "plain message with std::io::Error at src/lib.rs:10".repeat(100);
    let mut counts = Redactions::default();
    assert!(matches!(s.scrub_str(&text, &mut counts), Cow::Borrowed(_)));
    assert!(counts.is_empty());
}

#[test]
fn scrubbing_is_idempotent() {
    let s = alice();
    for text in [
        "alice@example.com /home/alice/x https://u:p@h/a?q=1 password=x 4111 1111 1111 1111 +44 20 7946 0958",
        "Bearer abcdefgh1234 on alice-laptop from 10.1.2.3 and fe80::1",
        "~bob/x C:\\Users\\Eve Smith\\y eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    ] {
        let once = scrub(&s, text);
        let mut counts = Redactions::default();
        let twice = s.scrub_str(&once, &mut counts);
        assert_eq!(twice, once, "{text}");
        assert!(counts.is_empty(), "{text}: {counts:?}");
    }
}

//! The privacy gate end to end: secrets planted in every part of what the
//! `tracing` layer captures (event fields, messages, the `Display` of each error
//! in a `source()` chain, span fields, span names and targets, breadcrumbs, tags,
//! panics) go through the real pipeline (layer -> worker -> sentry client ->
//! gate -> capturing sink), and every envelope that reaches the sink is
//! serialised and searched: no planted secret appears, while what makes an
//! event useful (exception types, functions, line numbers, crate-relative paths,
//! feature names, versions, OS, arch, timestamps, event ids, the crate's own
//! tags) does.
//!
//! The panic and the stderr preview need a process of their own (the panic hook
//! is process-global, the preview writes to stderr): this test binary runs again
//! with `--exact <child>` and [`CHILD_ROLE`] set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]

mod common;

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use common::capture::{FLUSH, builder, run, start};
use openadapt_telemetry::privacy::scrub_str;
use serde_json::Value;
use tracing_subscriber::prelude::*;

// ---------------------------------------------------------------------------
// The secrets

/// One planted secret: the text planted, and the substrings that must never
/// be sent (the secret itself and its identifying parts).
#[derive(Debug, Clone)]
struct Secret {
    what: &'static str,
    planted: String,
    forbidden: Vec<String>,
}

fn secret(what: &'static str, planted: &str, forbidden: &[&str]) -> Secret {
    let mut all = vec![planted.to_owned()];
    all.extend(forbidden.iter().map(|s| (*s).to_owned()));
    Secret {
        what,
        planted: planted.to_owned(),
        forbidden: all,
    }
}

const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzPlantedKeyMaterial0123456789+/abc\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n-----END RSA PRIVATE KEY-----";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.cGxhbnRlZC1zaWduYXR1cmU";
const URL: &str = "https://mallory:pa55w0rd-planted@files.example.com/export/report.csv?access_token=q-planted-token&page=2#frag-planted";

/// The running user's home directory, when it is long enough to be told apart.
fn real_home() -> Option<String> {
    let home = dirs::home_dir()?.to_string_lossy().into_owned();
    let home = home.trim_end_matches(['/', '\\']).to_owned();
    (home.chars().count() >= 3).then_some(home)
}

/// This machine's login and host names, when the privacy rules replace them as
/// words (3 characters or more, not a generic name such as `root` or `runner`:
/// see the `privacy` module docs). Elsewhere they are not secrets the rules know.
fn local_names() -> Vec<(&'static str, String)> {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .into_iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()));
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok());
    let mut names = Vec::new();
    if let Some(user) = user.map(|u| u.trim().to_owned())
        && scrub_str(&user) == "<user>"
    {
        names.push(("login name", user));
    }
    if let Some(host) = host.map(|h| h.trim().to_owned())
        && scrub_str(&host) == "<host>"
    {
        names.push(("host name", host));
    }
    names
}

/// Every kind of secret the gate must remove.
fn secrets() -> Vec<Secret> {
    let mut all = vec![
        secret("email", "zed.planted@example.com", &["zed.planted"]),
        secret("ipv4", "203.0.113.77", &[]),
        secret("ipv6", "2001:db8:85a3::8a2e:370:7334", &["8a2e:370:7334"]),
        secret(
            "linux home",
            "/home/quentin/secret-project/notes.txt",
            &["quentin"],
        ),
        secret(
            "macos home",
            "/Users/yolanda/Library/Preferences/app.plist",
            &["yolanda"],
        ),
        secret(
            "windows home",
            r"C:\Users\Bobby Tables\AppData\Roaming\app.log",
            &["Bobby", "Tables"],
        ),
        secret("tilde home", "~wilhelmina/.bashrc", &["wilhelmina"]),
        secret(
            "card",
            "4111 1111 1111 1111",
            &["4111111111111111", "4111-1111-1111-1111"],
        ),
        secret("card, no spaces", "5500005555555559", &[]),
        secret("ssn", "078-05-1120", &[]),
        secret("phone", "+44 20 7946 0958", &["7946 0958"]),
        secret("national phone", "(555) 123-4567", &["123-4567"]),
        secret("national phone, dots", "555.867.5309", &["867.5309"]),
        secret(
            "connection string",
            "Server=db.internal;User Id=sa;Password=Pl4nted pass w0rd;Encrypt=true",
            &["Pl4nted", "w0rd"],
        ),
        secret(
            "azure storage",
            "AccountName=acme;AccountKey=PlantedAzureKey0123456789abcdefPlantedAzureKey0123456789abcdef==;",
            &["PlantedAzureKey"],
        ),
        secret(
            "aws secret",
            "aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiPLANTEDKEYXY",
            &["wJalrXUtnFEMI"],
        ),
        secret(
            "slack webhook",
            "https://hooks.slack.com/services/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",
            &["T0PLANTED", "PlantedWebhookSecret0123"],
        ),
        secret("mac", "a4:83:e7:5a:1b:2c", &["a4:83:e7"]),
        secret(
            "unc path",
            r"\\fileserver\share\Users\ximena\Desktop\notes.txt",
            &["ximena"],
        ),
        secret("iban", "GB82 WEST 1234 5698 7654 32", &["GB82WEST"]),
        secret("iban, compact", "DE89370400440532013000", &[]),
        secret(
            "pem",
            PEM,
            &[
                "MIIEowIBAAKCAQEAzPlanted",
                "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo",
            ],
        ),
        secret(
            "bearer",
            "Bearer pl4ntedB34rerT0ken_xyz",
            &["pl4ntedB34rerT0ken"],
        ),
        secret(
            "jwt",
            JWT,
            &["eyJzdWIiOiJwbGFudGVkIn0", "cGxhbnRlZC1zaWduYXR1cmU"],
        ),
        secret("github", "ghp_PlantedGithubToken0123456789abcdefgh", &[]),
        secret("aws", "AKIAPLANTED123456789", &[]),
        secret("slack", "xoxb-123456789012-PlantedSlackTok3n", &[]),
        secret("google", "AIzaSyPlantedGoogleKey_0123456789abcdef", &[]),
        secret(
            "password pair",
            "password=hunter2-planted",
            &["hunter2-planted"],
        ),
        secret(
            "url",
            URL,
            &[
                "mallory",
                "pa55w0rd-planted",
                "q-planted-token",
                "frag-planted",
            ],
        ),
    ];
    if let Some(home) = real_home() {
        let escaped = serde_json::to_string(&home).unwrap();
        let escaped = escaped.trim_matches('"').to_owned();
        all.push(Secret {
            what: "real home",
            planted: format!("{home}/Documents/taxes-2024.pdf"),
            forbidden: vec![home, escaped],
        });
    }
    for (what, name) in local_names() {
        all.push(Secret {
            what,
            planted: format!("{name} "),
            forbidden: vec![name],
        });
    }
    // Last, and ended by a line break: a key cut off before its END line that
    // stops inside a word takes the rest of that line (the webhook after it
    // once lost its `https://hooks` to the key and was sent with its secret).
    all.push(secret(
        "truncated pem, then a webhook",
        "-----BEGIN PRIVATE KEY-----\nMIIEtruncatedPlantedKey0123, https://hooks.slack.com/services/T0TRUNC/B0TRUNC/TruncatedWebhookSecret42\n",
        &[
            "MIIEtruncatedPlantedKey0123",
            "T0TRUNC",
            "TruncatedWebhookSecret42",
        ],
    ));
    all
}

/// All the secrets in one text, between ordinary words.
fn planted_text() -> String {
    secrets()
        .iter()
        .map(|s| format!("[{}] {}", s.what, s.planted))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The planted secrets found in `text`, with some context, for the failure message.
fn leaks(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found = Vec::new();
    for s in secrets() {
        for f in &s.forbidden {
            // Names are case-insensitive; the other secrets are checked as planted.
            let hit = if f.chars().all(|c| c.is_alphanumeric() || c == '-') && !f.contains('-') {
                lower.contains(&f.to_lowercase())
            } else {
                text.contains(f.as_str())
            };
            if hit {
                let at = text.find(f.as_str()).unwrap_or(0);
                let mut from = at.saturating_sub(80);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (at + f.len() + 80).min(text.len());
                while !text.is_char_boundary(to) {
                    to += 1;
                }
                found.push(format!("{} ({f:?}) in …{}…", s.what, &text[from..to]));
            }
        }
    }
    found
}

fn assert_no_leaks(text: &str) {
    let found = leaks(text);
    assert!(
        found.is_empty(),
        "{} planted secret(s) reached the transport:\n{}",
        found.len(),
        found.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Errors whose Display carries secrets

#[derive(Debug)]
struct SyncError(UploadError);

#[derive(Debug)]
struct UploadError {
    detail: String,
    source: std::num::ParseIntError,
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sync failed for zed.planted@example.com from 203.0.113.77"
        )
    }
}
impl Error for SyncError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upload rejected: {}", self.detail)
    }
}
impl Error for UploadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

fn sync_error() -> SyncError {
    SyncError(UploadError {
        detail: planted_text(),
        source: "12a".parse::<u32>().unwrap_err(),
    })
}

/// A value whose `Debug` output holds secrets, as a config struct's would.
#[derive(Debug)]
#[allow(dead_code, reason = "read through Debug")]
struct Settings {
    password: &'static str,
    api_key: String,
    workdir: String,
    retries: u32,
}

fn settings() -> Settings {
    Settings {
        password: "hunter2-planted",
        api_key: "ghp_PlantedGithubToken0123456789abcdefgh".to_owned(),
        workdir: "/home/quentin/secret-project".to_owned(),
        retries: 3,
    }
}

// ---------------------------------------------------------------------------
// Span names and targets are `'static`: secrets planted in them are constants.

const SPAN_NAME: &str = "upload to zed.planted@example.com from /home/quentin/secret-project";
const SPAN_TARGET: &str = "uploader::203.0.113.77";
const CHILD_SPAN_NAME: &str =
    "fetch https://mallory:pa55w0rd-planted@files.example.com/x?access_token=q-planted-token";

/// The field names are identifiers; everything else about the span is planted.
#[tracing::instrument(err, fields(feature = "privacy.e2e.sync"))]
fn sync_file(path: &str, password: &str, owner_email: &str) -> Result<(), SyncError> {
    tracing::info!(%path, "syncing {path} for {owner_email}");
    Err(sync_error())
}

// ---------------------------------------------------------------------------
// In-process tests

fn the_one_event(captured: &openadapt_telemetry::testing::Captured) -> Value {
    let events: Vec<Value> = captured
        .events()
        .into_iter()
        .filter(|e| e["level"] != "info")
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    events.into_iter().next().unwrap()
}

#[test]
fn secrets_in_messages_fields_errors_tags_and_breadcrumbs_never_leave() {
    let (telemetry, captured) = start(builder(&[("OPENADAPT_INTERNAL", "false")]));
    let text = planted_text();
    let err = sync_error();
    let cfg = settings();
    run(&telemetry, || {
        // Breadcrumbs: messages and fields.
        tracing::info!(peer = "203.0.113.77", home = %text, "connected: {text}");
        tracing::warn!(user_email = "zed.planted@example.com", note = ?text, "retrying: {text}");
        tracing::info!(settings = ?cfg, "loaded settings");
        // The error: message, fields (Display and Debug), a sensitive key, tags, the chain.
        tracing::error!(
            error = &err as &dyn Error,
            detail = %text,
            debug_detail = ?text,
            settings = ?cfg,
            password = "hunter2-planted",
            api_key = "AKIAPLANTED123456789",
            tags.upload_path = %text,
            tags.peer = "2001:db8:85a3::8a2e:370:7334",
            "could not sync: {text}"
        );
    });
    assert!(telemetry.flush(FLUSH));
    let wire = captured.serialized();
    assert_no_leaks(&wire);

    let event = the_one_event(&captured);
    // Each part was sent, scrubbed: the secrets were there to be found.
    let message = event["message"].as_str().unwrap_or_default();
    for marker in [
        "[email]",
        "[ip]",
        "/home/<user>/secret-project",
        r"C:\Users\<user>\AppData",
        "[card]",
        "[ssn]",
        "[phone]",
        "[iban]",
        "[private-key]",
        "Bearer [Filtered]",
        "[jwt]",
        "[api-key]",
        "password=[Filtered]",
        "https://[Filtered]@files.example.com/export/report.csv?[Filtered]#[Filtered]",
        "Password=[Filtered];",
        "AccountKey=[Filtered];",
        "https://hooks.slack.com/[webhook]",
        "[mac]",
        r"\\fileserver\share\Users\<user>\Desktop",
    ] {
        assert!(message.contains(marker), "{marker} in {message}");
    }
    if real_home().is_some() {
        assert!(
            message.contains("/Documents/taxes-2024.pdf"),
            "the path after the home survives: {message}"
        );
    }
    assert_eq!(event["extra"]["password"], "[Filtered]");
    assert_eq!(event["extra"]["api_key"], "[Filtered]");
    assert!(
        event["extra"]["settings"]
            .as_str()
            .is_some_and(|s| s.contains("password: \"[Filtered]\"") && s.contains("retries: 3")),
        "{}",
        event["extra"]["settings"]
    );
    assert!(
        event["tags"]["upload_path"]
            .as_str()
            .is_some_and(|t| t.contains("[email]"))
    );
    assert_eq!(event["tags"]["peer"], "[ip]");
    let exceptions = event["exception"]["values"].as_array().expect("exception");
    let types: Vec<&str> = exceptions
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["std::num::ParseIntError", "UploadError", "SyncError"]
    );
    assert_eq!(
        exceptions[2]["value"], "sync failed for [email] from [ip]",
        "{exceptions:#?}"
    );
    assert!(
        exceptions[1]["value"]
            .as_str()
            .is_some_and(|v| v.starts_with("upload rejected: [email] ") || v.contains("[email]"))
    );
    let crumbs = event["breadcrumbs"]["values"].as_array().expect("crumbs");
    assert_eq!(crumbs.len(), 3, "{crumbs:#?}");
    assert_eq!(crumbs[0]["data"]["peer"], "[ip]");
    assert_eq!(crumbs[1]["data"]["user_email"], "[Filtered]");
    assert!(
        crumbs[1]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("retrying: ") && m.contains("[phone]"))
    );
}

#[test]
fn secrets_in_span_names_targets_and_fields_never_leave() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    let text = planted_text();
    run(&telemetry, || {
        let root = tracing::info_span!(
            target: SPAN_TARGET,
            SPAN_NAME,
            path = %text,
            owner = "zed.planted@example.com",
            session_token = "pl4ntedB34rerT0ken",
            session_count = 4,
            later = tracing::field::Empty,
        );
        let _root = root.enter();
        root.record("later", format!("recorded later: {text}").as_str());
        {
            let _child =
                tracing::info_span!(target: SPAN_TARGET, CHILD_SPAN_NAME, detail = ?text).entered();
        }
        let _ = sync_file(
            "/home/quentin/secret-project/notes.txt",
            "hunter2-planted",
            "zed.planted@example.com",
        );
    });
    assert!(telemetry.flush(FLUSH));
    let wire = captured.serialized();
    assert_no_leaks(&wire);

    let txns = captured.transactions();
    assert_eq!(txns.len(), 1, "{txns:#?}");
    let txn = &txns[0];
    assert_eq!(
        txn["transaction"],
        "upload to [email] from /home/<user>/secret-project"
    );
    let trace = &txn["contexts"]["trace"];
    assert_eq!(trace["data"]["owner"], "[email]");
    assert_eq!(trace["data"]["session_token"], "[Filtered]");
    assert_eq!(trace["data"]["session_count"], 4, "a count is not a secret");
    assert!(
        trace["data"]["later"]
            .as_str()
            .is_some_and(|s| s.starts_with("recorded later: ") && s.contains("[iban]"))
    );
    assert!(
        trace["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("uploader::[ip]::")),
        "{trace}"
    );
    let spans = txn["spans"].as_array().expect("spans");
    // A span's name is in its description (`target::name`); its op is a category.
    let named = |suffix: &str| {
        spans.iter().find(|s| {
            s["description"]
                .as_str()
                .is_some_and(|d| d.ends_with(suffix))
        })
    };
    let fetch = named("::fetch https://[Filtered]@files.example.com/x?[Filtered]")
        .unwrap_or_else(|| panic!("the child span, scrubbed: {spans:#?}"));
    assert_eq!(fetch["op"], "function");
    let sync = named("::sync_file").expect("the instrumented span");
    assert_eq!(sync["data"]["password"], "[Filtered]");
    assert_eq!(sync["data"]["owner_email"], "[Filtered]");
    assert_eq!(
        sync["data"]["path"],
        "/home/<user>/secret-project/notes.txt"
    );
    assert_eq!(sync["status"], "internal_error");
    assert_eq!(
        sync["data"]["code.filepath"], "tests/privacy_e2e.rs",
        "a crate-relative path survives"
    );
    assert!(sync["data"]["code.lineno"].is_u64());
    // The `#[instrument(err)]` event, inside the planted root span.
    let event = the_one_event(&captured);
    assert_eq!(
        event["transaction"],
        "upload to [email] from /home/<user>/secret-project"
    );
    assert!(event["contexts"]["trace"]["trace_id"].is_string());
}

#[test]
fn what_makes_an_event_useful_survives() {
    let (telemetry, captured) = start(
        builder(&[
            ("OPENADAPT_INTERNAL", "false"),
            ("OPENADAPT_TELEMETRY_ENVIRONMENT", "staging"),
        ])
        .traces_sample_rate(1.0),
    );
    let err = sync_error();
    let kept = "sentry 0.49.5 (v1.2.3.4) at 2024-01-15T10:30:00Z, run 550e8400-e29b-41d4-a716-446655440000, \
                order 4111111111111112, port 8080, took 1.234567s, ts 1705312200123, \
                connection refused at 127.0.0.1:8000, session_count=4 token_count=1200, \
                std::io::Error at src/layer.rs:42, <cargo>/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs:120";
    let line = run(&telemetry, || {
        let _span = tracing::info_span!("import", feature = "privacy.e2e.import").entered();
        tracing::info!(os = std::env::consts::OS, "{kept}");
        let line = line!() + 1;
        tracing::error!(error = &err as &dyn Error, session_count = 4, "{kept}");
        line
    });
    assert!(telemetry.flush(FLUSH));
    assert_no_leaks(&captured.serialized());
    let event = the_one_event(&captured);

    // Messages that hold no secret are sent byte for byte.
    assert_eq!(event["message"], kept);
    assert_eq!(event["breadcrumbs"]["values"][0]["message"], kept);
    assert_eq!(event["extra"]["session_count"], "4");
    // Exception types, function names, line numbers, crate-relative paths.
    let exceptions = event["exception"]["values"].as_array().expect("exception");
    let types: Vec<&str> = exceptions
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["std::num::ParseIntError", "UploadError", "SyncError"]
    );
    assert_eq!(exceptions[0]["value"], "invalid digit found in string");
    let frames = exceptions[2]["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    let site = frames.last().expect("the newest frame is the call site");
    assert!(
        site["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("privacy_e2e::what_makes_an_event_useful_survives")),
        "{site}"
    );
    assert_eq!(site["lineno"], line, "{site}");
    assert!(site["colno"].is_u64());
    assert!(
        site["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("privacy_e2e.rs")),
        "{site}"
    );
    assert_eq!(
        event["culprit"],
        format!("tests/privacy_e2e.rs:{line}"),
        "{event:#}"
    );
    // A frame of a registry crate keeps its package-relative path.
    if let Some(home) = real_home() {
        for f in frames {
            let path = f["abs_path"].as_str().unwrap_or_default();
            assert!(!path.contains(&home), "{path}");
        }
    }
    assert!(
        frames.iter().any(|f| f["filename"].as_str().is_some_and(
            |p| p.contains("/src/") && p.split('/').next().is_some_and(|pkg| pkg.contains('.'))
        )),
        "a registry frame keeps `package-version/src/file.rs`: {frames:#?}"
    );
    // The environment: versions, OS, arch, the crate's own tags.
    let tags = &event["tags"];
    assert_eq!(tags["package"], "openadapt-test");
    assert_eq!(tags["package_version"], "1.2.3");
    assert_eq!(tags["environment"], "staging");
    assert_eq!(tags["internal"], "False");
    assert!(["Linux", "Darwin", "Windows"].contains(&tags["os"].as_str().unwrap_or("")));
    assert_eq!(tags["arch"], std::env::consts::ARCH);
    assert!(tags["os_version"].as_str().is_some_and(|v| !v.is_empty()));
    let session = tags["session_id"].as_str().expect("session id");
    assert!(session.len() == 32 && session.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(event["release"], "openadapt-test@1.2.3");
    assert_eq!(event["server_name"], "openadapt-test");
    // `user`, if any, is the anonymous id alone.
    if let Some(user) = event["user"].as_object() {
        assert!(user.keys().all(|k| k == "id"), "{user:?}");
    }
    // Timestamps and ids.
    assert!(event["timestamp"].is_number(), "{}", event["timestamp"]);
    let id = event["event_id"].as_str().expect("event id");
    assert_eq!(id.replace('-', "").len(), 32, "{id}");
    let last = telemetry.last_event_id().expect("the last event id");
    assert!(
        captured
            .events()
            .iter()
            .any(|e| e["event_id"].as_str().map(|i| i.replace('-', "")) == Some(last.clone())),
        "{last}"
    );
    let crumb = &event["breadcrumbs"]["values"][0];
    assert!(crumb["timestamp"].is_number() || crumb["timestamp"].is_string());
    assert_eq!(crumb["data"]["os"], std::env::consts::OS);
    // Feature names, and the transaction's ids and timings.
    let features: Vec<Value> = captured
        .events()
        .into_iter()
        .filter(|e| e["tags"]["feature"].is_string())
        .collect();
    assert_eq!(features.len(), 1, "{features:#?}");
    assert_eq!(features[0]["tags"]["feature"], "privacy.e2e.import");
    assert_eq!(features[0]["message"], "feature:privacy.e2e.import");
    assert_eq!(features[0]["extra"]["count"], 1);
    let txn = &captured.transactions()[0];
    assert_eq!(txn["transaction"], "import");
    assert!(txn["start_timestamp"].is_number() && txn["timestamp"].is_number());
    let trace = &txn["contexts"]["trace"];
    assert_eq!(trace["trace_id"].as_str().map(str::len), Some(32));
    assert_eq!(trace["span_id"].as_str().map(str::len), Some(16));
    assert_eq!(trace["data"]["feature"], "privacy.e2e.import");
    assert_eq!(trace["data"]["code.filepath"], "tests/privacy_e2e.rs");
    assert_eq!(txn["tags"]["session_id"], session);
}

// ---------------------------------------------------------------------------
// Child processes: a panic, and the stderr preview

/// Set in a child only: the role it plays.
const CHILD_ROLE: &str = "OPENADAPT_PRIVACY_E2E_CHILD";

/// The child's telemetry: the preview variables come from the real environment
/// (set by the parent), nothing else does.
fn child_builder() -> openadapt_telemetry::TelemetryBuilder {
    builder(&[]).env_lookup(|name| match name {
        "OPENADAPT_TELEMETRY_DEBUG" | "OPENADAPT_TELEMETRY_DEBUG_FILE" => std::env::var(name).ok(),
        "OPENADAPT_INTERNAL" => Some("false".to_owned()),
        _ => None,
    })
}

/// The child role of [`a_panic_is_sent_scrubbed`]. In the parent it does nothing.
#[test]
fn panic_child() {
    if std::env::var(CHILD_ROLE).as_deref() != Ok("panic") {
        return;
    }
    let telemetry = child_builder()
        .capture_panics(true)
        .shutdown_timeout(Duration::from_secs(5))
        .init();
    plant_then_panic(telemetry);
}

/// What both panic children do: logs planted secrets, then panics with them;
/// only the panic hook sends (the guard is forgotten, its drop never runs).
fn plant_then_panic(telemetry: openadapt_telemetry::Telemetry) -> ! {
    assert!(telemetry.is_enabled());
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .init();
    let text = planted_text();
    tracing::info!(peer = "203.0.113.77", "opening {text}");
    tracing::warn!(password = "hunter2-planted", "slow: {text}");
    std::mem::forget(telemetry);
    std::panic::panic_any(format!("reading {text} failed"));
}

/// The child role of [`preview_lines_report_redaction_counts`].
#[test]
fn preview_child() {
    if std::env::var(CHILD_ROLE).as_deref() != Ok("preview") {
        return;
    }
    let telemetry = child_builder().traces_sample_rate(1.0).init();
    assert!(telemetry.is_enabled());
    run(&telemetry, || {
        let _span = tracing::info_span!("preview", feature = "privacy.e2e.preview").entered();
        tracing::info!("to zed.planted@example.com and zed.planted@example.com");
        tracing::error!(
            password = "hunter2-planted",
            "failed for zed.planted@example.com from 203.0.113.77 with card 4111 1111 1111 1111"
        );
    });
    assert!(telemetry.flush(FLUSH));
}

/// Runs this test binary again as `role`, with `vars`; returns its stdout and stderr.
fn run_child(role: &str, test: &str, vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut all = vars.to_vec();
    all.push((CHILD_ROLE, role));
    let run = common::child::run_self(
        test,
        &all,
        &[
            "OPENADAPT_TELEMETRY_DEBUG",
            "OPENADAPT_TELEMETRY_DEBUG_FILE",
        ],
    );
    (run.status.success(), run.stdout, run.stderr)
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oat-privacy-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    let _ = std::fs::remove_file(&file);
    file
}

#[test]
fn a_panic_is_sent_scrubbed() {
    let file = temp_file("panic.jsonl");
    let (ok, stdout, stderr) = run_child(
        "panic",
        "panic_child",
        &[("OPENADAPT_TELEMETRY_DEBUG_FILE", file.to_str().unwrap())],
    );
    assert!(!ok, "the child panicked\n{stdout}\n{stderr}");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no preview file ({e})\n{stdout}\n{stderr}"));
    let _ = std::fs::remove_file(&file);
    assert_no_leaks(&text);
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON item per line"))
        .filter(|e: &Value| e["level"] == "fatal")
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    let event = &events[0];
    let exception = event["exception"]["values"]
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(exception["type"], "panic");
    assert_eq!(exception["mechanism"]["type"], "panic");
    assert_eq!(exception["mechanism"]["handled"], false);
    let value = exception["value"].as_str().unwrap_or_default();
    assert!(
        value.starts_with("reading [") && value.contains("[email]") && value.ends_with(" failed"),
        "{value}"
    );
    let culprit = event["culprit"].as_str().unwrap_or_default();
    assert!(culprit.starts_with("tests/privacy_e2e.rs:"), "{culprit}");
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|n| n.starts_with("privacy_e2e::panic_child"))),
        "{frames:#?}"
    );
    let crumbs = event["breadcrumbs"]["values"].as_array().expect("crumbs");
    assert_eq!(crumbs.len(), 2);
    assert_eq!(crumbs[0]["data"]["peer"], "[ip]");
    assert_eq!(crumbs[1]["data"]["password"], "[Filtered]");
}

#[test]
fn preview_lines_report_redaction_counts() {
    let (ok, stdout, stderr) = run_child(
        "preview",
        "preview_child",
        &[("OPENADAPT_TELEMETRY_DEBUG", "1")],
    );
    assert!(ok, "the preview child passes\n{stdout}\n{stderr}");
    assert_no_leaks(&stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[telemetry] "))
        .collect();
    // An error event, a transaction, a usage event.
    assert!(lines.len() >= 3, "{stderr}");
    let mut error_counts = None;
    let mut clean_lines = 0;
    for line in &lines {
        let (json, counts) = match line.rsplit_once(" redacted=") {
            Some((json, counts)) => (json, Some(counts)),
            None => (*line, None),
        };
        let item: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"));
        let counts: Option<Value> =
            counts.map(|c| serde_json::from_str(c).unwrap_or_else(|e| panic!("{e}: {c}")));
        match &counts {
            Some(c) => {
                let c = c.as_object().expect("counts are an object");
                assert!(!c.is_empty(), "{line}");
                assert!(
                    c.values().all(|n| n.as_u64().is_some_and(|n| n > 0)),
                    "{line}"
                );
            }
            None => clean_lines += 1,
        }
        if item["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("failed for"))
        {
            error_counts = counts;
        }
    }
    let counts = error_counts.expect("the error event reports what was redacted");
    // The message's email, IP and card twice (the message, and the exception's
    // value: an `error!` without an error value is an exception, for GlitchTip),
    // the breadcrumb's two emails, the password field.
    assert_eq!(counts["email"], 4, "{counts}");
    assert_eq!(counts["ip"], 2, "{counts}");
    assert_eq!(counts["card"], 2, "{counts}");
    assert_eq!(counts["key"], 1, "{counts}");
    assert!(
        clean_lines >= 1,
        "an item with nothing redacted has no suffix: {stderr}"
    );
}

// ---------------------------------------------------------------------------
// Offline: what reaches the spool (issue 11) passed the same gate

/// The child role of [`a_panic_spooled_offline_holds_no_secret`]: the spool
/// folder comes from the parent.
#[test]
fn spool_panic_child() {
    let Ok(dir) = std::env::var(common::spool::DIR) else {
        return;
    };
    let telemetry = common::spool::builder(&common::spool::closed_port_dsn(), dir.as_ref())
        .capture_panics(true)
        .init();
    plant_then_panic(telemetry);
}

/// Every spool file's bytes, read whole; fails unless the spool holds `at_least` envelopes.
fn spooled_text(dir: &std::path::Path, at_least: usize) -> String {
    let files = common::spool::files(dir);
    let envelopes = common::spool::envelope_names(dir).len();
    assert!(
        envelopes >= at_least,
        "{envelopes} envelopes spooled: {:?}",
        files.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    files
        .iter()
        .map(|(name, bytes)| format!("{name}\n{}\n", String::from_utf8_lossy(bytes)))
        .collect()
}

/// The corpus above, logged with the server down: every event, breadcrumb,
/// span, tag, chain and feature count goes to the spool, and no planted
/// secret is in any byte of any spool file.
#[test]
fn secrets_logged_offline_never_reach_the_spool() {
    let spool = common::spool::TempDir::new("privacy");
    let telemetry = common::spool::builder(&common::spool::closed_port_dsn(), &spool.spool())
        .traces_sample_rate(1.0)
        .init();
    assert!(telemetry.is_enabled());
    let text = planted_text();
    let err = sync_error();
    let cfg = settings();
    run(&telemetry, || {
        tracing::info!(peer = "203.0.113.77", home = %text, "connected: {text}");
        tracing::warn!(user_email = "zed.planted@example.com", note = ?text, "retrying: {text}");
        tracing::info!(settings = ?cfg, "loaded settings");
        let root = tracing::info_span!(
            target: SPAN_TARGET,
            SPAN_NAME,
            path = %text,
            owner = "zed.planted@example.com",
            session_token = "pl4ntedB34rerT0ken",
        );
        let _root = root.enter();
        {
            let _child =
                tracing::info_span!(target: SPAN_TARGET, CHILD_SPAN_NAME, detail = ?text).entered();
        }
        let _ = sync_file(
            "/home/quentin/secret-project/notes.txt",
            "hunter2-planted",
            "zed.planted@example.com",
        );
        tracing::error!(
            error = &err as &dyn Error,
            detail = %text,
            debug_detail = ?text,
            settings = ?cfg,
            password = "hunter2-planted",
            api_key = "AKIAPLANTED123456789",
            tags.upload_path = %text,
            tags.peer = "2001:db8:85a3::8a2e:370:7334",
            "could not sync: {text}"
        );
    });
    // The guard's drop: what is left goes to the spool too.
    drop(telemetry);
    // The error (`sync_file`'s `#[instrument(err)]` report merged with the
    // caller's `error!` of the same failure) and the feature count; a client
    // report of the failed delivery too when the worker tried the network
    // before the drop.
    let text = spooled_text(&spool.spool(), 2);
    assert_no_leaks(&text);
    assert!(
        text.contains("[email]") && text.contains("could not sync"),
        "the error is in the spool, scrubbed"
    );
    assert!(
        text.contains("privacy.e2e.sync"),
        "the feature count is in the spool"
    );
}

/// A panic with the server down: written to the spool by the panic hook,
/// scrubbed like everything else.
#[test]
fn a_panic_spooled_offline_holds_no_secret() {
    let spool = common::spool::TempDir::new("privacy-panic");
    let run = common::child::run_self(
        "spool_panic_child",
        &[(common::spool::DIR, &spool.spool_text())],
        &[
            "OPENADAPT_TELEMETRY_DEBUG",
            "OPENADAPT_TELEMETRY_DEBUG_FILE",
        ],
    );
    assert!(!run.status.success(), "the child panicked: {run:?}");
    let text = spooled_text(&spool.spool(), 1);
    assert_no_leaks(&text);
    assert!(
        text.contains(r#""level":"fatal""#) && text.contains("[email]"),
        "the panic is in the spool, scrubbed: {text}"
    );
}

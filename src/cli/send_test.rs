//! `send-test`: one test event to the configured server, and its answer.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use super::{
    DEBUG_FILE_VAR, DEBUG_VAR, Failure, NAME, VERSION, dsn_summary, origin, process_vars, say, why,
};
use crate::identity::AnonymousId;
use crate::telemetry::Telemetry;
use crate::transport::Delivery;

const DSN_VAR: &str = "OPENADAPT_TELEMETRY_DSN";
/// How long `send-test` waits for the server.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// `send-test [--dsn URL]`.
pub(super) fn send_test(dsn: Option<String>) -> Result<ExitCode, Failure> {
    if let Some(dsn) = &dsn
        && dsn.parse::<sentry::types::Dsn>().is_err()
    {
        return Err(Failure::Usage(format!(
            "invalid --dsn {:?}: expected a DSN like https://KEY@HOST/PROJECT_ID",
            masked(dsn)
        )));
    }
    // The real settings, but never preview (this tests the server), and --dsn
    // above OPENADAPT_TELEMETRY_DSN and the config file.
    let mut vars: HashMap<String, String> = process_vars()
        .filter(|(k, _)| k != DEBUG_VAR && k != DEBUG_FILE_VAR)
        .collect();
    let flag = dsn.is_some();
    if let Some(dsn) = dsn {
        vars.insert(DSN_VAR.to_owned(), dsn);
    }
    let telemetry = Telemetry::builder(NAME, VERSION)
        .env_lookup(move |name| vars.get(name).cloned())
        .global(false)
        .capture_panics(false)
        .shutdown_timeout(Duration::from_secs(1))
        .init();
    // (init printed the configuration's warnings, if any)
    let config = telemetry.config();
    if !config.enabled().value {
        return Err(Failure::Failed(format!(
            "telemetry is off ({}): nothing was sent",
            why(config)
        )));
    }
    let Some((host, project)) = config.dsn().value.as_deref().and_then(dsn_summary) else {
        return Err(Failure::Failed(format!(
            "no DSN configured: pass --dsn URL, or set {DSN_VAR} or \"dsn\" in the config file"
        )));
    };
    let source = if flag {
        "--dsn".to_owned()
    } else {
        origin(&config.dsn().source)
    };
    say(&format!(
        "Sending a test event to {host}, project {project} ({source})…\n"
    ));
    let delivery = telemetry.send_test_event(SEND_TIMEOUT);
    let (ok, text) = match &delivery {
        Delivery::Accepted => (
            true,
            match telemetry.last_event_id() {
                Some(id) => format!("accepted: the server took the test event (event id {id})"),
                None => "accepted: the server took the test event".to_owned(),
            },
        ),
        Delivery::RateLimited => (
            false,
            "rate limited: the server asks this client to wait (HTTP 429)".to_owned(),
        ),
        Delivery::Refused(status) => (
            false,
            format!(
                "refused: the server answered HTTP {status}{}",
                match status {
                    401 | 403 => " (check the DSN's key)",
                    404 => " (check the DSN's host and project id)",
                    413 => " (the event is too large)",
                    _ => "",
                }
            ),
        ),
        Delivery::Redirected(status) => (
            false,
            format!(
                "redirected to another host; check the DSN (the server answered HTTP {status}, and redirects are never followed)"
            ),
        ),
        Delivery::Unreachable(why) => (false, format!("unreachable: {why}")),
        Delivery::BackingOff => (
            false,
            "not sent: backing off after earlier failures".to_owned(),
        ),
        Delivery::NotSent => (false, "not sent: nothing left after filtering".to_owned()),
    };
    let mut out = format!("{text}\n");
    let id = config
        .distinct_id()
        .map(str::to_owned)
        .or_else(|| AnonymousId::of(config).and_then(|id| id.load().ok().flatten()));
    if ok && let Some(id) = id {
        out.push_str(&format!("It carried the anonymous id {id}.\n"));
    }
    say(&out);
    drop(telemetry);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A DSN with its key hidden, for messages.
pub(super) fn masked(dsn: &str) -> String {
    match (dsn.find("://"), dsn.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &dsn[..scheme + 3], &dsn[at..])
        }
        (None, Some(at)) => format!("***{}", &dsn[at..]),
        _ => dsn.to_owned(),
    }
}

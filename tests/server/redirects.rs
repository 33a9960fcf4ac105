//! Redirects are never followed (issue 14.3): a server that answers 301, 302, 303, 307 or 308 with a
//! `Location:` on another loopback server (a captive portal, a moved server) gets a failed delivery,
//! `Delivery::Redirected(status)`, and the other server sees no connection at all, so the DSN's key goes to the
//! DSN's host only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::time::Duration;

use common::capture::{FLUSH, builder, run};
use common::faults::{Injector, Mode};
use openadapt_telemetry::Delivery;

const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// A server answering `status` with a `Location` on `other`.
fn redirecting(status: u16, other: &Injector) -> Injector {
    Injector::start(Mode::Status(
        status,
        vec![(
            "Location".into(),
            format!("http://{}/api/1/envelope/", other.addr()),
        )],
    ))
}

#[test]
fn a_redirect_is_a_failed_delivery_and_nothing_reaches_the_other_host() {
    for status in STATUSES {
        let other = Injector::start(Mode::Healthy);
        let server = redirecting(status, &other);
        let telemetry = builder(&[]).dsn(server.dsn()).init();
        assert!(telemetry.is_enabled());

        let delivery = telemetry.send_test_event(Duration::from_secs(5));
        assert_eq!(delivery, Delivery::Redirected(status), "HTTP {status}");

        // An ordinary error too: it never reaches the other host either (backing off, or redirected again).
        run(&telemetry, || tracing::error!("redirected failure"));
        assert!(telemetry.flush(FLUSH));
        drop(telemetry);

        assert!(
            server.request_count() >= 1,
            "HTTP {status}: the DSN's host was asked"
        );
        for request in server.requests() {
            let auth = request
                .headers
                .iter()
                .find(|(name, _)| name == "x-sentry-auth")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            assert!(auth.contains("sentry_key=public"), "{auth}");
        }
        assert_eq!(
            other.connections(),
            0,
            "HTTP {status}: the other host saw a connection: {:#?}",
            other.requests()
        );
        assert_eq!(other.request_count(), 0);
    }
}

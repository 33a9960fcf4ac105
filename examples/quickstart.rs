//! The quick start: an error with a source chain, a warning, a sampled span and
//! a feature use.
//!
//! ```text
//! cargo run --example quickstart                                  # prints what would be sent
//! OPENADAPT_TELEMETRY_DSN=https://KEY@HOST/1 cargo run --example quickstart   # sends it
//! ```
use std::error::Error;
use std::fmt;
use std::io;

use openadapt_telemetry::{Delivery, Telemetry};
use tracing_subscriber::prelude::*;

/// A package's error type, with a cause behind `source()`.
#[derive(Debug)]
struct RecordError {
    source: io::Error,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not start the recording")
    }
}

impl Error for RecordError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[tracing::instrument(fields(feature = "quickstart.record"))]
fn record(attempt: u32) -> Result<(), RecordError> {
    tracing::warn!(free_disk_mb = 512, "disk space is low");
    let error = RecordError {
        source: io::Error::new(
            io::ErrorKind::PermissionDenied,
            "/home/alice/recordings is not writable",
        ),
    };
    tracing::error!(error = &error as &dyn Error, "recording failed");
    Err(error)
}

fn main() {
    let preview = std::env::var_os("OPENADAPT_TELEMETRY_DSN").is_none();
    let telemetry = Telemetry::builder("openadapt-quickstart", env!("CARGO_PKG_VERSION"))
        .traces_sample_rate(1.0) // sample every span, for the demo
        .preview(preview) // no DSN: print what would be sent, send nothing
        .init();
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .init();

    if !telemetry.is_enabled() {
        eprintln!(
            "telemetry is off ({}): nothing to show",
            telemetry.config().enabled().source
        );
        return;
    }
    if preview {
        eprintln!(
            "No OPENADAPT_TELEMETRY_DSN: printing what would be sent; nothing leaves this machine."
        );
    }
    let _ = record(1);
    if !telemetry.flush(std::time::Duration::from_secs(5)) {
        eprintln!("the server did not take everything within 5 s");
        return;
    }
    if preview {
        return;
    }
    // What the server answered: "sent" only when it took it.
    match telemetry.last_delivery() {
        Some(Delivery::Accepted) => match telemetry.last_event_id() {
            Some(id) => eprintln!("sent; the error's event id is {id}"),
            None => eprintln!("sent"),
        },
        Some(Delivery::Refused(status)) => {
            eprintln!("refused: the server answered HTTP {status}; check the DSN")
        }
        Some(Delivery::Redirected(status)) => {
            eprintln!("redirected to another host (HTTP {status}); check the DSN")
        }
        Some(other) => eprintln!("not sent now ({other:?}); a later run tries again"),
        None => eprintln!("nothing was sent"),
    }
}

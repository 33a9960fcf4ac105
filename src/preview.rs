//! Local sinks: the preview (`OPENADAPT_TELEMETRY_DEBUG`), which prints what
//! would be sent instead of sending it, and the test capture. Neither touches
//! the network or the spool.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::gate::{Envelope, Item};
use crate::transport::Delivery;

/// Where scrubbed envelopes go when they do not go to a server.
pub(crate) trait Sink: Send + Sync + 'static {
    /// Takes one envelope; never blocks for long, never touches the network.
    fn send(&self, envelope: &Envelope) -> Delivery;
}

/// Prints what would be sent instead of sending it.
#[derive(Debug)]
pub(crate) struct PreviewSink {
    file: Option<PathBuf>,
    lock: Mutex<()>,
}

impl PreviewSink {
    /// Preview to stderr (`None`) or appended to a file.
    pub(crate) fn new(file: Option<PathBuf>) -> Self {
        PreviewSink {
            file,
            lock: Mutex::new(()),
        }
    }
}

/// Formats one preview line: `[telemetry] ` and the item's JSON; when the gate
/// redacted anything, the counts per rule follow (never the values):
/// `[telemetry] {...} redacted={"email":1}`.
pub(crate) fn preview_line(item: &Item) -> String {
    if item.redactions.is_empty() {
        format!("[telemetry] {}", item.json)
    } else {
        format!(
            "[telemetry] {} redacted={}",
            item.json,
            item.redactions.to_json()
        )
    }
}

impl Sink for PreviewSink {
    fn send(&self, envelope: &Envelope) -> Delivery {
        // `try_lock`: an exit path (or a forked child) never waits on it.
        let _guard = self.lock.try_lock();
        match &self.file {
            None => {
                let stderr = std::io::stderr();
                let mut err = stderr.lock();
                for item in &envelope.items {
                    let _ = writeln!(err, "{}", preview_line(item));
                }
            }
            Some(path) => {
                let mut text = String::new();
                for item in &envelope.items {
                    text.push_str(&item.json);
                    text.push('\n');
                }
                // Never through a link, never into another user's file (`fs`).
                let written =
                    crate::fs::open_preview(path).and_then(|mut f| f.write_all(text.as_bytes()));
                if written.is_err() {
                    return Delivery::Unreachable(format!("cannot write {}", path.display()));
                }
            }
        }
        Delivery::Accepted
    }
}

/// Keeps scrubbed envelopes in memory (tests).
#[cfg(feature = "test-util")]
#[derive(Debug, Clone, Default)]
pub(crate) struct CaptureSink {
    pub(crate) envelopes: std::sync::Arc<Mutex<Vec<Envelope>>>,
}

#[cfg(feature = "test-util")]
impl Sink for CaptureSink {
    fn send(&self, envelope: &Envelope) -> Delivery {
        if let Ok(mut all) = self.envelopes.lock() {
            all.push(envelope.clone());
        }
        Delivery::Accepted
    }
}

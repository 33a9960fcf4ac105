//! Building a telemetry instance that captures what its privacy gate lets
//! through, with injected environment and no config file: no global state, so
//! tests run in parallel.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::HashMap;
use std::time::Duration;

use openadapt_telemetry::testing::Captured;
use openadapt_telemetry::{Telemetry, TelemetryBuilder};
use tracing_subscriber::prelude::*;

/// How long a test waits for a flush; generous, it is a bound on hangs.
pub const FLUSH: Duration = Duration::from_secs(10);

/// An environment lookup over fixed variables.
pub fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

/// A builder isolated from the machine: given variables only, no config file,
/// not global, no panic hook.
pub fn builder(vars: &[(&str, &str)]) -> TelemetryBuilder {
    Telemetry::builder("openadapt-test", "1.2.3")
        .env_lookup(env(vars))
        .no_config_file()
        .global(false)
        .capture_panics(false)
}

/// Starts `builder` with a capture sink.
pub fn start(builder: TelemetryBuilder) -> (Telemetry, Captured) {
    let captured = Captured::new();
    let telemetry = builder.capture(&captured).init();
    (telemetry, captured)
}

/// Runs `f` with a subscriber made of the registry and the telemetry layer.
pub fn run<T>(telemetry: &Telemetry, f: impl FnOnce() -> T) -> T {
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, f)
}

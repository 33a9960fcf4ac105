//! The behaviour tests, one binary with a module per behaviour, so that the
//! harness runs the tests of every module side by side (a test that waits on
//! a server or a child process leaves the CPU to the others) and a change
//! links one binary, not seven:
//!
//! - `server`: what reaches a real Bugsink server (ignored without one:
//!   `scripts/test` starts it), held against what GlitchTip keeps;
//! - `faults`: a server that fails (down, silent, 5xx, 429, resets), through a
//!   loopback fault injector;
//! - `spool`: what does not reach the network waits on disk for a later run;
//! - `host`: a good neighbour in the host program (other layers and filters,
//!   panic hooks, signals, exits, opt-out, the level floor, limits, preview);
//! - `events`: what each kind of record becomes;
//! - `cli`: the `openadapt-telemetry` command (feature `cli`);
//! - `hostile`: hostile files and environments.
//!
//! Cases that touch process-wide state run in a child process: this binary
//! again, `--exact MODULE::FILE::..._child`. One module:
//! `cargo test --test behaviour spool::exit::`.

#[path = "common/mod.rs"]
mod common;
#[path = "common/within.rs"]
mod within;

// The spool's bounds test, the longest by far (5,000 errors through the whole
// pipeline in child processes, ~17 s in a test build), is a module of its own
// whose name sorts first: the harness starts tests in name order, so it starts
// at once and the others run beside it (started last, it ran alone at the end:
// 44 s for this binary).
#[path = "spool/bounds.rs"]
mod bounds;
#[path = "cli/mod.rs"]
mod cli;
#[path = "events/mod.rs"]
mod events;
#[path = "faults/mod.rs"]
mod faults;
#[path = "host/mod.rs"]
mod host;
#[path = "hostile/mod.rs"]
mod hostile;
#[path = "server/mod.rs"]
mod server;
#[path = "spool/mod.rs"]
mod spool;

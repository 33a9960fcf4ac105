//! The spool: what does not reach the network waits on disk for a later run. Most cases run
//! in a child process (this binary again, `--exact MODULE::..._child`).

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/within.rs"]
mod within;

mod bounds;
mod concurrent;
mod consent;
mod corrupt;
mod exit;
mod fork;
mod modes;
mod offline_runs;

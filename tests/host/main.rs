//! A good neighbour in the host program: other layers and filters, panic hooks, signals,
//! threads that exit, shutdown, opt-out, the level floor, limits and the preview.
//! Cases that touch process-wide state run in a child process (this binary again,
//! `--exact MODULE::..._child`). `span_level_setting` is a binary of its own: its
//! floors above INFO, cached in tracing's process-wide callsite interest, raced the
//! INFO spans `span_level` asserts on.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/within.rs"]
mod within;

mod limits;
mod neighbour_fmt;
mod neighbour_layers;
mod neighbour_signal;
mod opt_out;
mod panic_hook;
mod preview;
mod shutdown;
mod span_level;
mod thread_exit;

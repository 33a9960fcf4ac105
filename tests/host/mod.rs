//! A good neighbour in the host program: other layers and filters, panic hooks, signals,
//! threads that exit, shutdown, opt-out, the level floor, limits and the preview.
//! Cases that touch process-wide state run in a child process (this binary again,
//! `--exact host::MODULE::..._child`).

mod limits;
mod neighbour_fmt;
mod neighbour_layers;
mod neighbour_signal;
mod opt_out;
mod panic_hook;
mod preview;
mod shutdown;
mod span_level;
mod span_level_setting;
mod thread_exit;

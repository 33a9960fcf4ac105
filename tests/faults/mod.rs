//! Faults: a server that fails, limits, resets, stays silent or restarts; bursts, panics and
//! async hosts. Each module is one behaviour.

mod async_hosts;
mod backoff;
mod burst;
mod client_reports;
mod panic;
mod rate_limits;
mod restart;
mod silent_server;

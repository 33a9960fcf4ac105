//! Against a server: the real-server tests (a Bugsink started by `scripts/test`; `#[ignore]`d
//! without it), and the quick start, redirects and kept-alive connections against the fault injector.

#[path = "../common/mod.rs"]
mod common;

mod bugsink_fixture;
mod counts;
mod events;
mod exceptions;
mod keep_alive;
mod limits;
mod opt_out;
mod privacy;
mod quickstart;
mod readme_glitchtip;
mod redirects;
mod transactions;
mod usage_dsn;

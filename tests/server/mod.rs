//! Against a server: the real-server tests (a Bugsink started by `scripts/test`; `#[ignore]`d
//! without it), and the quick start, redirects and kept-alive connections against the fault injector.
//! Each test finds what it sent by its own id or name: tests that count everything the server
//! received (`bugsink_fixture`, `server_opt_out`) are binaries of their own.

mod counts;
mod events;
mod exceptions;
mod keep_alive;
mod limits;
mod privacy;
mod quickstart;
mod readme_glitchtip;
mod redirects;
mod transactions;
mod usage_dsn;

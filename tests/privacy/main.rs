//! Privacy end to end: planted secrets never leave, in any envelope, preview line or spool
//! file; a hostile environment and hostile files.

#[path = "../common/mod.rs"]
mod common;

mod e2e;
mod hostile_environment;
mod hostile_files;

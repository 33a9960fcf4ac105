//! Helpers shared by the integration tests (include with `mod common;`).

pub mod bugsink;
pub mod capture;
pub mod child;
pub mod faults;
pub mod spool;

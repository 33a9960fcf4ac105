//! Helpers shared by the integration tests: `tests/behaviour.rs` includes them with
//! `#[path = "common/mod.rs"] mod common;` (a test binary of one file, `tests/NAME.rs`,
//! with `mod common;`), and each test module with `use crate::common;`.

pub mod bugsink;
pub mod capture;
pub mod child;
pub mod faults;
pub mod spool;

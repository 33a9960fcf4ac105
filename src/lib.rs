//! openadapt-telemetry (crate docs are written in src/lib.rs once the API settles).
#![warn(unreachable_pub, missing_docs, missing_debug_implementations)]

mod config;
mod internal;
pub mod privacy;

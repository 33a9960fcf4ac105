//! The `openadapt-telemetry` command-line tool, run against a temporary home folder.
#![cfg(feature = "cli")]

mod cli_support;

mod enable_disable;
mod family;
mod identity;
mod notice;
mod preview;
mod reset_id;
mod send_test;
mod spool;
mod status;
mod usage;

//! `openadapt-telemetry`: see and change what OpenAdapt telemetry sends from
//! this machine. Built with the `cli` feature:
//! `cargo install openadapt-telemetry --features cli`. The commands live in
//! the library, in `openadapt_telemetry::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    openadapt_telemetry::cli::run(std::env::args_os().skip(1))
}

//! The spool: what does not reach the network waits on disk for a later run. Most cases run
//! in a child process (this binary again, `--exact spool::MODULE::..._child`).

mod concurrent;
mod consent;
mod corrupt;
mod exit;
mod fork;
mod modes;
mod offline_runs;

use crate::common::spool::{CHILD_BOUND, DIR, DSN, ROLE, TAG, TempDir};
use crate::within;

/// Runs the child test `test` (`spool::MODULE::..._child`) of this binary as a
/// program, with its role, DSN, spool and tag, within [`CHILD_BOUND`].
pub(crate) fn run_child(
    test: &str,
    role: &str,
    dsn: &str,
    spool: &TempDir,
    tag: &str,
) -> within::Bounded {
    within::run_self_within(
        test,
        &[
            (ROLE, role),
            (DSN, dsn),
            (DIR, &spool.spool_text()),
            (TAG, tag),
        ],
        CHILD_BOUND,
    )
}

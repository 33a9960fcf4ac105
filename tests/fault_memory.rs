//! 100,000 errors from 4 threads against a server that never answers: resident
//! memory grows by less than 50 MiB and no call blocks.
//!
//! Memory is read from `/proc/self/status` (`VmRSS` sampled every 5 ms while the
//! threads run, and the kernel's peak `VmHWM` at the end; the larger growth is
//! used). Linux only; elsewhere only the latency bound is checked.
//!
//! Run with `--nocapture` to see the measured figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::capture::{builder, run};
use common::faults::{
    Injector, Latencies, MIB, Mode, P999_BOUND, proc_status_bytes, resident_bytes,
};

/// The guard's drop with a silent server takes this long (asserted: no longer).
const SHUTDOWN: Duration = Duration::from_millis(500);
const THREADS: usize = 4;
const PER_THREAD: usize = 25_000;
const GROWTH_BOUND: u64 = 50 * MIB;
/// A call that waited on the network would take at least the 2 s connect timeout
/// (here the 5 s request timeout); this bound is for scheduling noise on a loaded machine.
const MAX_BOUND: Duration = Duration::from_secs(1);

#[test]
fn a_flood_against_a_silent_server_stays_small_and_never_blocks() {
    let server = Injector::start(Mode::Silent);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    assert!(telemetry.is_enabled());

    // Warm up (the worker's first request, and the first backtrace symbolisation)
    // and allocate the latency buffers before the baseline.
    run(&telemetry, || tracing::error!("warm-up"));
    assert!(server.wait_until(Duration::from_secs(5), |r| !r.is_empty()));
    let mut buffers: Vec<Vec<Duration>> = (0..THREADS)
        .map(|_| Vec::with_capacity(PER_THREAD))
        .collect();
    let baseline = resident_bytes();

    let done = AtomicBool::new(false);
    let start = Instant::now();
    let peak_sampled = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = resident_bytes().unwrap_or(0);
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(resident_bytes().unwrap_or(0));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak.max(resident_bytes().unwrap_or(0))
        });
        let callers: Vec<_> = buffers
            .iter_mut()
            .enumerate()
            .map(|(t, latencies)| {
                let telemetry = &telemetry;
                scope.spawn(move || {
                    run(telemetry, || {
                        for i in 0..PER_THREAD {
                            let call = Instant::now();
                            tracing::error!(t, i, "flood {t}-{i}");
                            latencies.push(call.elapsed());
                        }
                    });
                })
            })
            .collect();
        for caller in callers {
            caller.join().expect("a caller thread panicked");
        }
        done.store(true, Ordering::Relaxed);
        sampler.join().expect("the sampler panicked")
    });
    let elapsed = start.elapsed();
    let peak_hwm = proc_status_bytes("VmHWM:");

    let latencies = Latencies::new(buffers.into_iter().flatten().collect());
    latencies.report("silent server, 100,000 distinct errors from 4 threads");

    let start_drop = Instant::now();
    drop(telemetry);
    let dropped = start_drop.elapsed();

    if let Some(baseline) = baseline {
        let sampled = peak_sampled.saturating_sub(baseline);
        let hwm = peak_hwm.unwrap_or(0).saturating_sub(baseline);
        let growth = sampled.max(hwm);
        eprintln!(
            "[fault] flood of {} errors in {elapsed:?}: resident memory baseline {:.1} MiB, \
             growth {:.2} MiB sampled / {:.2} MiB by VmHWM; guard drop {dropped:?}; {} requests",
            THREADS * PER_THREAD,
            baseline as f64 / MIB as f64,
            sampled as f64 / MIB as f64,
            hwm as f64 / MIB as f64,
            server.request_count()
        );
        assert!(
            growth < GROWTH_BOUND,
            "resident memory grew {:.1} MiB",
            growth as f64 / MIB as f64
        );
    }
    assert_eq!(latencies.len(), THREADS * PER_THREAD);
    assert!(
        latencies.p999() < P999_BOUND,
        "p99.9 {:?}",
        latencies.p999()
    );
    assert!(
        latencies.max() < MAX_BOUND,
        "a call took {:?}",
        latencies.max()
    );
    assert!(
        dropped < SHUTDOWN + Duration::from_secs(1),
        "drop took {dropped:?}"
    );
}

//! What the layer costs on the caller's thread, beside the floor and the anchor.
//!
//! Every operation is one criterion group; each group measures the same code
//! under eight subscribers, so a ratio is read off one run:
//!
//! | id | subscriber (all with a global `LevelFilter::INFO`) |
//! |---|---|
//! | `floor` | `registry()` alone |
//! | `fmt` | + `fmt::layer()` writing to `io::sink` |
//! | `none` | + `None::<TelemetryLayer>` (a layer that is not there: the bound for `off`) |
//! | `off` | + this crate's layer, telemetry disabled |
//! | `on_t0.01` | + this crate's layer, enabled, `traces_sample_rate` 0.01 |
//! | `on_t1` | + this crate's layer, enabled, `traces_sample_rate` 1.0 |
//! | `sentry_t0.01` | + sentry-tracing 0.49.5 (`SpanLayer`, `BreadcrumbLayer`, `ErrorLayer`), traces 0.01 |
//! | `sentry_t1` | + the same, traces 1.0 |
//!
//! This crate's envelopes go through the whole pipeline (worker thread, privacy
//! gate, serialisation) into the preview sink pointed at `/dev/null`, which
//! refuses to write to a device (one failed `open` per envelope, and one line
//! on stderr per process); sentry-tracing's go to a transport that drops them.
//!
//! The `contention_*` groups run an operation on 1 thread and on 8 threads at
//! once (started together by a barrier, each with its own thread of a pool that
//! lives as long as the function), under `floor`, `on_t0.01` and
//! `sentry_t0.01`: ids `<config>_1t` and `<config>_8t`. A function's time per
//! iteration is the wall time × the cores in use (`min(threads, nproc)`) ÷ the
//! operations done by all threads: the cost of one operation in core time, equal
//! to the single-threaded cost when threads do not slow each other down, on any
//! number of cores. Each thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) is summed
//! too and printed per operation beside it: it does not move when other programs
//! take a core.
//!
//! ```text
//! cargo bench --bench overhead          # ~3 min on 2 cores; prints the tables and the targets
//! cargo test --benches                  # runs each function once (CI)
//! ```
//!
//! After a full run, the medians are read back from criterion's
//! `target/criterion/<group>/<id>/new/estimates.json` and printed as a Markdown
//! table with the issue's targets (only estimates written by this run are used).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};
use openadapt_telemetry::{Telemetry, TelemetryLayer};
use tracing::{Dispatch, Level, error, info, info_span};
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::prelude::*;

/// The subscribers compared, in the order they appear in every group and table.
const CONFIGS: &[Config] = &[
    Config::Floor,
    Config::Fmt,
    Config::None,
    Config::Off,
    Config::On(0.01),
    Config::On(1.0),
    Config::Sentry(0.01),
    Config::Sentry(1.0),
];

#[derive(Clone, Copy)]
enum Config {
    Floor,
    Fmt,
    None,
    Off,
    On(f32),
    Sentry(f32),
}

impl Config {
    fn id(self) -> &'static str {
        match self {
            Config::Floor => "floor",
            Config::Fmt => "fmt",
            Config::None => "none",
            Config::Off => "off",
            Config::On(rate) if rate < 1.0 => "on_t0.01",
            Config::On(_) => "on_t1",
            Config::Sentry(rate) if rate < 1.0 => "sentry_t0.01",
            Config::Sentry(_) => "sentry_t1",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Config::Floor => "registry alone",
            Config::Fmt => "+ fmt to a sink",
            Config::None => "+ `None::<TelemetryLayer>`",
            Config::Off => "this crate, disabled",
            Config::On(rate) if rate < 1.0 => "this crate, traces 0.01",
            Config::On(_) => "this crate, traces 1.0",
            Config::Sentry(rate) if rate < 1.0 => "sentry-tracing, traces 0.01",
            Config::Sentry(_) => "sentry-tracing, traces 1.0",
        }
    }
}

/// A subscriber and what must stay alive (and be flushed) while it is used.
struct Setup {
    dispatch: Dispatch,
    telemetry: Option<Telemetry>,
    hub: Option<Arc<sentry::Hub>>,
}

impl Setup {
    fn new(config: Config) -> Self {
        let registry = tracing_subscriber::registry();
        let (dispatch, telemetry, hub) = match config {
            Config::Floor => (Dispatch::new(registry.with(LevelFilter::INFO)), None, None),
            Config::Fmt => {
                let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
                let subscriber = registry.with(fmt).with(LevelFilter::INFO);
                (Dispatch::new(subscriber), None, None)
            }
            Config::None => {
                // What any layer costs when absent at run time: the bound for `off`.
                let none: Option<TelemetryLayer> = None;
                let subscriber = registry.with(none).with(LevelFilter::INFO);
                (Dispatch::new(subscriber), None, None)
            }
            Config::Off | Config::On(_) => {
                let (enabled, rate) = match config {
                    Config::On(rate) => (true, rate),
                    _ => (false, 0.01),
                };
                let telemetry = Telemetry::builder("bench", "0.1.0")
                    // Preview into /dev/null: the full pipeline, privacy gate
                    // and serialisation included; the sink refuses the device
                    // and writes nothing.
                    .env_lookup(|name| {
                        (name == "OPENADAPT_TELEMETRY_DEBUG_FILE").then(|| "/dev/null".to_owned())
                    })
                    .no_config_file()
                    .global(false)
                    .capture_panics(false)
                    .enabled(enabled)
                    .traces_sample_rate(rate)
                    .init();
                assert_eq!(telemetry.is_enabled(), enabled, "{}", config.id());
                let subscriber = registry.with(telemetry.layer()).with(LevelFilter::INFO);
                (Dispatch::new(subscriber), Some(telemetry), None)
            }
            Config::Sentry(rate) => {
                // As the split layers' docs recommend: spans at INFO and above,
                // INFO and WARN events as breadcrumbs, ERROR events as events.
                let subscriber = registry
                    .with(sentry_tracing::SpanLayer::new().with_filter(LevelFilter::INFO))
                    .with(
                        sentry_tracing::BreadcrumbLayer::new().with_filter(filter_fn(|m| {
                            matches!(*m.level(), Level::WARN | Level::INFO)
                        })),
                    )
                    .with(sentry_tracing::ErrorLayer::new().with_filter(LevelFilter::ERROR))
                    .with(LevelFilter::INFO);
                (Dispatch::new(subscriber), None, Some(sentry_hub(rate)))
            }
        };
        Setup {
            dispatch,
            telemetry,
            hub,
        }
    }

    /// Runs `f` with this subscriber as the thread's default (and, for the
    /// anchor, its hub bound to the thread).
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let with_subscriber = || tracing::dispatcher::with_default(&self.dispatch, f);
        match &self.hub {
            Some(hub) => sentry::Hub::run(hub.clone(), with_subscriber),
            None => with_subscriber(),
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // Let the worker finish this function's backlog before the next one is
        // measured, so it does not compete for the second core.
        if let Some(telemetry) = &self.telemetry {
            telemetry.flush(Duration::from_secs(300));
        }
    }
}

/// A transport that drops every envelope.
struct Discard;

impl sentry::Transport for Discard {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        black_box(envelope);
    }
}

/// A hub with a client configured as this crate configures its own: a DSN, no
/// default integrations, no PII, no logs, the given traces sample rate.
fn sentry_hub(traces_sample_rate: f32) -> Arc<sentry::Hub> {
    let mut options = sentry::ClientOptions::new()
        .release("bench@0.1.0")
        .sample_rate(1.0)
        .traces_sample_rate(traces_sample_rate)
        .send_default_pii(false)
        .transport(Arc::new(Discard));
    options.dsn = "https://public@127.0.0.1/1".parse().ok();
    let client = Arc::new(sentry::Client::from(options));
    assert!(client.is_enabled(), "the anchor's client must be enabled");
    Arc::new(sentry::Hub::new(
        Some(client),
        Arc::new(sentry::Scope::default()),
    ))
}

/// Adds every configuration's measurement of `op` to `group`, after `prepare`
/// has run under that configuration (outside the measurement).
fn each_config(
    group: &mut BenchmarkGroup<'_, WallTime>,
    prepare: impl Fn(),
    op: impl Fn(u64) + Copy,
) {
    for &config in CONFIGS {
        let setup = Setup::new(config);
        setup.run(&prepare);
        group.bench_function(config.id(), |b| {
            setup.run(|| {
                let mut i = 0u64;
                b.iter(|| {
                    i = i.wrapping_add(1);
                    op(black_box(i));
                });
            });
        });
    }
}

/// Fills the breadcrumb buffer (100 in both this crate and sentry's default).
fn hold_100_breadcrumbs() {
    for i in 0..100u32 {
        info!(step = i, phase = "load", "loaded a chunk");
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("info_2_fields");
    each_config(
        &mut group,
        || {},
        |_| {
            info!(items = 3u32, status = "ok", "request done");
        },
    );
    group.finish();

    let mut group = c.benchmark_group("span");
    each_config(
        &mut group,
        || {},
        |_| {
            let span = info_span!("work", items = 3u32);
            let entered = span.enter();
            drop(black_box(entered));
        },
    );
    group.finish();

    let mut group = c.benchmark_group("root_child");
    each_config(
        &mut group,
        || {},
        |_| {
            info_span!("root").in_scope(|| {
                info_span!("child").in_scope(|| black_box(()));
            });
        },
    );
    group.finish();

    // The same error every time: this crate counts a repeat of an error still
    // queued instead of queueing it again.
    let mut group = c.benchmark_group("error_100_crumbs_repeat");
    each_config(&mut group, hold_100_breadcrumbs, |_| {
        error!(code = 7u32, "request failed");
    });
    group.finish();

    // A different message every time: every error is queued (until the queue is
    // full, when it is counted as dropped).
    let mut group = c.benchmark_group("error_100_crumbs_distinct");
    each_config(&mut group, hold_100_breadcrumbs, |i| {
        error!(code = 7u32, "request {i} failed");
    });
    group.finish();

    let mut group = c.benchmark_group("feature_event");
    each_config(
        &mut group,
        || {},
        |_| {
            info!(feature = "x");
        },
    );
    group.finish();
}

// ---------------------------------------------------------------------------
// Contention: the same operation from 8 threads at once.

/// Threads logging at once in the contention groups.
const THREADS: usize = 8;

/// The subscribers compared under contention.
const MT_CONFIGS: &[Config] = &[Config::Floor, Config::On(0.01), Config::Sentry(0.01)];

const MT_OPS: &[(&str, &str)] = &[
    ("contention_info", "`info!` with 2 fields, outside spans"),
    (
        "contention_info_in_span",
        "`info!` with 2 fields, in each thread's own span",
    ),
    ("contention_feature", "`info!(feature = \"x\")`"),
];

/// Each contention function's CPU time and operations, summed over its threads.
static CPU: Mutex<BTreeMap<(String, String), (u64, u64)>> = Mutex::new(BTreeMap::new());

/// This thread's CPU time, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// What the pool's threads and the measuring thread share.
struct PoolState {
    start: Barrier,
    done: Barrier,
    iters: AtomicU64,
    stop: AtomicBool,
    cpu_ns: AtomicU64,
    ops: AtomicU64,
}

/// Threads that each run `op` `iters` times when told, all released at once.
struct Pool {
    threads: usize,
    state: Arc<PoolState>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    /// `threads` threads with `dispatch` as their default subscriber (and,
    /// for the anchor, a hub of their own on its client, as sentry gives every
    /// new thread); with `in_span`, each keeps a root span of its own entered
    /// while it runs `op`.
    fn new(
        dispatch: &Dispatch,
        hub: Option<&Arc<sentry::Hub>>,
        threads: usize,
        in_span: bool,
        op: fn(u64),
    ) -> Self {
        let state = Arc::new(PoolState {
            start: Barrier::new(threads + 1),
            done: Barrier::new(threads + 1),
            iters: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            cpu_ns: AtomicU64::new(0),
            ops: AtomicU64::new(0),
        });
        let handles = (0..threads)
            .map(|t| {
                let state = state.clone();
                let dispatch = dispatch.clone();
                let hub = hub.map(|hub| Arc::new(sentry::Hub::new_from_top(hub)));
                std::thread::spawn(move || {
                    let work = || {
                        let span = in_span.then(|| info_span!("request", worker = t));
                        loop {
                            state.start.wait();
                            if state.stop.load(Ordering::Relaxed) {
                                break;
                            }
                            let n = state.iters.load(Ordering::Relaxed);
                            let entered = span.as_ref().map(|s| s.enter());
                            let cpu = thread_cpu_ns();
                            for i in 0..n {
                                op(black_box(i));
                            }
                            let cpu = thread_cpu_ns().saturating_sub(cpu);
                            drop(entered);
                            state.cpu_ns.fetch_add(cpu, Ordering::Relaxed);
                            state.ops.fetch_add(n, Ordering::Relaxed);
                            state.done.wait();
                        }
                    };
                    let with_subscriber = || tracing::dispatcher::with_default(&dispatch, work);
                    match hub {
                        Some(hub) => sentry::Hub::run(hub, with_subscriber),
                        None => with_subscriber(),
                    }
                })
            })
            .collect();
        Pool {
            threads,
            state,
            handles,
        }
    }

    /// Runs `iters` operations on every thread, started together. Returns the
    /// wall time × the cores in use ÷ the threads, so that criterion's time per
    /// iteration is the core time of one operation.
    fn run(&self, iters: u64) -> Duration {
        self.state.iters.store(iters, Ordering::Relaxed);
        self.state.start.wait();
        let started = Instant::now();
        self.state.done.wait();
        let wall = started.elapsed();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let in_use = u32::try_from(self.threads.min(cores)).unwrap_or(1);
        wall * in_use / u32::try_from(self.threads).unwrap_or(1)
    }

    /// CPU time and operations so far, summed over the threads.
    fn cpu(&self) -> (u64, u64) {
        (
            self.state.cpu_ns.load(Ordering::Relaxed),
            self.state.ops.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        self.state.start.wait();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Adds `op` on 1 and on [`THREADS`] threads under every contention
/// configuration to `group` (named `name`).
fn each_config_mt(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    in_span: bool,
    op: fn(u64),
) {
    // Every sample as long as the others: each pays two barrier waits.
    group.sampling_mode(SamplingMode::Flat);
    for &config in MT_CONFIGS {
        let setup = Setup::new(config);
        for threads in [1, THREADS] {
            let pool = Pool::new(&setup.dispatch, setup.hub.as_ref(), threads, in_span, op);
            let id = format!("{}_{threads}t", config.id());
            group.bench_function(&id, |b| b.iter_custom(|iters| pool.run(iters)));
            if let Ok(mut cpu) = CPU.lock() {
                cpu.insert((name.to_owned(), id), pool.cpu());
            }
        }
    }
}

fn contention(c: &mut Criterion) {
    let name = "contention_info";
    let mut group = c.benchmark_group(name);
    each_config_mt(&mut group, name, false, |_| {
        info!(items = 3u32, status = "ok", "request done");
    });
    group.finish();

    let name = "contention_info_in_span";
    let mut group = c.benchmark_group(name);
    each_config_mt(&mut group, name, true, |_| {
        info!(items = 3u32, status = "ok", "request done");
    });
    group.finish();

    let name = "contention_feature";
    let mut group = c.benchmark_group(name);
    each_config_mt(&mut group, name, false, |_| {
        info!(feature = "x");
    });
    group.finish();
}

/// Feature uses counted by this crate when 8 threads hit the same feature at
/// once, against the uses made (a check, not a timing): (counted, made).
fn features_counted_under_contention() -> (u64, u64) {
    const PER_THREAD: u64 = 250_000;
    let captured = openadapt_telemetry::testing::Captured::new();
    let telemetry = Telemetry::builder("bench", "0.1.0")
        .env_lookup(|_| None)
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .traces_sample_rate(0.0)
        .capture(&captured)
        .init();
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(telemetry.layer())
            .with(LevelFilter::INFO),
    );
    let pool = Pool::new(&dispatch, None, THREADS, false, |_| {
        info!(feature = "x");
    });
    pool.run(PER_THREAD);
    let (_, made) = pool.cpu();
    drop(pool);
    telemetry.flush(Duration::from_secs(60));
    let counted = captured
        .events()
        .iter()
        .filter(|e| e["message"] == "feature:x")
        .filter_map(|e| e["extra"]["count"].as_u64())
        .sum();
    (counted, made)
}

// ---------------------------------------------------------------------------
// The table: medians read back from criterion's estimates.

const OPS: &[(&str, &str)] = &[
    ("info_2_fields", "`info!` with 2 fields"),
    ("span", "span create/enter/exit/drop"),
    ("root_child", "root + child span"),
    (
        "error_100_crumbs_repeat",
        "`error!`, 100 crumbs held, same error",
    ),
    (
        "error_100_crumbs_distinct",
        "`error!`, 100 crumbs held, new error each time",
    ),
    ("feature_event", "`info!(feature = \"x\")`"),
];

fn criterion_dir() -> PathBuf {
    // Where criterion writes, in its own order of preference.
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// The median (ns) this run wrote for `group/id`, if it wrote one.
fn median(dir: &std::path::Path, group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn ns(v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v) if v >= 10_000.0 => format!("{:.1} µs", v / 1000.0),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn print_table(since: SystemTime) {
    let dir = criterion_dir();
    let mut m: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for (op, _) in OPS {
        for config in CONFIGS {
            if let Some(v) = median(&dir, op, config.id(), since) {
                m.insert((op, config.id()), v);
            }
        }
    }
    if m.is_empty() {
        return;
    }
    let get = |op: &str, id: &str| m.get(&(op, id)).copied();

    println!("\n## Medians, ns per operation ({})\n", dir.display());
    let mut header = "| operation |".to_owned();
    let mut rule = "|---|".to_owned();
    for config in CONFIGS {
        header.push_str(&format!(" {} |", config.label()));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    for (op, label) in OPS {
        let mut row = format!("| {label} |");
        for config in CONFIGS {
            row.push_str(&format!(" {} |", ns(get(op, config.id()))));
        }
        println!("{row}");
    }

    println!("\n## Targets (ratios of medians)\n");
    println!("| target | ratio | limit | met |\n|---|---|---|---|");
    let check = |what: String, num: Option<f64>, den: Option<f64>, limit: f64| {
        let ratio = num.zip(den).map(|(n, d)| n / d);
        let (shown, met) = match ratio {
            Some(r) => (format!("{r:.3}"), if r <= limit { "yes" } else { "**no**" }),
            None => ("—".to_owned(), "—"),
        };
        println!("| {what} | {shown} | <= {limit} | {met} |");
    };
    for (op, label) in OPS {
        check(
            format!("disabled / floor, {label}"),
            get(op, "off"),
            get(op, "floor"),
            1.05,
        );
    }
    for (op, label) in OPS {
        check(
            format!("(bound) disabled / `None` layer, {label}"),
            get(op, "off"),
            get(op, "none"),
            1.05,
        );
    }
    for op in ["span", "root_child"] {
        check(
            format!("enabled (0.01) / floor, {op} not sampled"),
            get(op, "on_t0.01"),
            get(op, "floor"),
            2.0,
        );
        check(
            format!("enabled (0.01) / sentry-tracing (0.01), {op} not sampled"),
            get(op, "on_t0.01"),
            get(op, "sentry_t0.01"),
            0.1,
        );
    }
    check(
        "enabled / sentry-tracing, `info!` breadcrumb".to_owned(),
        get("info_2_fields", "on_t0.01"),
        get("info_2_fields", "sentry_t0.01"),
        0.25,
    );
    check(
        "enabled / fmt, `info!` breadcrumb".to_owned(),
        get("info_2_fields", "on_t0.01"),
        get("info_2_fields", "fmt"),
        1.0,
    );
    check(
        "enabled / floor, `feature = \"x\"` event".to_owned(),
        get("feature_event", "on_t0.01"),
        get("feature_event", "floor"),
        5.0,
    );
    for op in ["error_100_crumbs_repeat", "error_100_crumbs_distinct"] {
        check(
            format!("enabled / sentry-tracing, {op}"),
            get(op, "on_t0.01"),
            get(op, "sentry_t0.01"),
            0.2,
        );
    }
    for op in ["span", "root_child"] {
        check(
            format!("enabled (1.0) / sentry-tracing (1.0), {op} sampled"),
            get(op, "on_t1"),
            get(op, "sentry_t1"),
            1.0,
        );
    }
}

fn print_contention_table(since: SystemTime) {
    let dir = criterion_dir();
    let cpu = CPU.lock().map(|m| m.clone()).unwrap_or_default();
    let get = |op: &str, id: &str| median(&dir, op, id, since);
    let cpu_per_op = |op: &str, id: &str| {
        cpu.get(&(op.to_owned(), id.to_owned()))
            .filter(|(_, ops)| *ops > 0)
            .map(|(ns, ops)| *ns as f64 / *ops as f64)
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match a.zip(b) {
        Some((a, b)) => format!("{:.2}", a / b),
        None => "—".to_owned(),
    };
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for (op, label) in MT_OPS {
        for config in MT_CONFIGS {
            let one = format!("{}_1t", config.id());
            let many = format!("{}_{THREADS}t", config.id());
            let (t1, tn) = (get(op, &one), get(op, &many));
            if t1.is_none() && tn.is_none() {
                continue;
            }
            let (c1, cn) = (cpu_per_op(op, &one), cpu_per_op(op, &many));
            rows.push(format!(
                "| {label} | {} | {} | {} | {} | {} | {} | {} |",
                config.label(),
                ns(t1),
                ns(tn),
                ratio(tn, t1),
                ns(c1),
                ns(cn),
                ratio(cn, c1),
            ));
            if matches!(config, Config::On(_)) {
                targets.push((
                    label,
                    tn.zip(t1).map(|(n, o)| n / o),
                    cn.zip(c1).map(|(n, o)| n / o),
                ));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\n## Contention: ns per operation, 1 thread and {THREADS} at once ({cores} cores)\n");
    println!(
        "Time: wall time × {} cores in use ÷ operations of all threads (criterion's median). \
         CPU: the threads' CPU time ÷ their operations (the whole function, warm-up included).\n",
        THREADS.min(cores)
    );
    println!(
        "| operation | subscriber | time, 1 thread | time, {THREADS} threads | ratio | CPU, 1 thread | CPU, {THREADS} threads | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "\n| target: this crate (0.01), {THREADS} threads / 1 thread | time | CPU | limit | met |"
    );
    println!("|---|---|---|---|---|");
    for (label, time, cpu) in targets {
        let shown = |r: Option<f64>| r.map_or("—".to_owned(), |r| format!("{r:.2}"));
        let met = match time.into_iter().chain(cpu).reduce(f64::max) {
            Some(r) if r <= 2.0 => "yes",
            Some(_) => "**no**",
            None => "—",
        };
        println!(
            "| {label} | {} | {} | <= 2 | {met} |",
            shown(time),
            shown(cpu)
        );
    }
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30)
        .configure_from_args();
    benches(&mut criterion);
    contention(&mut criterion);
    criterion.final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // measures nothing.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        print_table(started);
        print_contention_table(started);
        if !CPU.lock().map(|m| m.is_empty()).unwrap_or(true) {
            let (counted, made) = features_counted_under_contention();
            println!(
                "\nFeature uses counted with {THREADS} threads at once: {counted} of {made} ({} lost)",
                made.saturating_sub(counted)
            );
        }
    }
}

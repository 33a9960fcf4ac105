//! Stack traces: `std::backtrace::Backtrace`'s text turned into Sentry frames,
//! oldest call first, without the frames of the capture itself or below `main`.

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicBool, Ordering};

use sentry::protocol::Frame;

/// Function-name prefixes of frames that belong to the capture itself, not the program.
const CAPTURE_FRAMES: &[&str] = &[
    "std::backtrace",
    "openadapt_telemetry::",
    "<openadapt_telemetry",
    "tracing::",
    "<tracing",
    "tracing_core::",
    "tracing_subscriber::",
    "std::panicking",
    "core::panicking",
    "std::panic",
    "std::thread::local",
    "std::sys::backtrace",
    "core::ops::function",
    "<alloc::boxed::Box",
    "<core::",
    "<std::",
];
/// Frames below the program's entry point.
const RUNTIME_FRAMES: &[&str] = &[
    "std::rt::lang_start",
    "std::sys::backtrace::__rust_begin_short_backtrace",
    "__libc_start",
];
const NOT_IN_APP: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "tokio::",
    "futures",
    "<core::",
    "<std::",
    "<alloc::",
    "tracing",
    "<tracing",
    "test::",
    "<fn(",
    "<F as core::",
    "<F as std::",
];

/// Turns `std::backtrace::Backtrace`'s text into Sentry frames, oldest call
/// first, without the frames of the capture itself. `site` is the call site
/// (`file`, `line`) of the event or panic: frames above it are dropped.
pub(crate) fn parse_backtrace(bt: &Backtrace, site: Option<(&str, u32)>) -> Vec<Frame> {
    let text = bt.to_string();
    WARM.store(true, Ordering::Relaxed);
    parse_backtrace_text(&text, site)
}

/// Set once a stack trace has been read: the process's debug information is
/// loaded, and reading another costs milliseconds, not the first one's 0.1 to
/// 0.3 s.
static WARM: AtomicBool = AtomicBool::new(false);

/// Whether reading a stack trace is cheap now (see [`WARM`]).
pub(crate) fn warm() -> bool {
    WARM.load(Ordering::Relaxed)
}

pub(crate) fn parse_backtrace_text(text: &str, site: Option<(&str, u32)>) -> Vec<Frame> {
    // Read as borrowed lines first: most frames (the capture, tracing's
    // dispatch, the runtime) are dropped, and only the kept ones are built.
    let mut lines: Vec<Line<'_>> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(location) = trimmed.strip_prefix("at ") {
            if let Some(last) = lines.last_mut() {
                last.locate(location);
            }
            continue;
        }
        let Some((index, function)) = trimmed.split_once(": ") else {
            continue;
        };
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        lines.push(Line {
            function: function.trim(),
            ..Line::default()
        });
    }
    let named =
        |l: &Line<'_>, prefixes: &[&str]| prefixes.iter().any(|p| l.function.starts_with(p));
    // Drop the frames above the call site: the capture, tracing's dispatch, std's.
    let at_site = site.and_then(|(file, line)| {
        lines.iter().position(|l| {
            l.lineno == Some(u64::from(line))
                && l.abs_path
                    .is_some_and(|p| p.ends_with(file) || file.ends_with(p))
        })
    });
    let first = at_site.unwrap_or_else(|| {
        lines
            .iter()
            .take_while(|l| named(l, CAPTURE_FRAMES))
            .count()
    });
    let kept = lines.get(first..).unwrap_or_default();
    // Drop the runtime frames below `main`.
    let kept = match kept.iter().position(|l| named(l, RUNTIME_FRAMES)) {
        Some(end) => &kept[..end],
        None => kept,
    };
    kept.iter().rev().map(Line::frame).collect()
}

/// One frame of a `Backtrace`'s text, borrowed: its function and what its
/// `at` lines said, each in turn (as [`Frame`]'s fields would hold them).
#[derive(Default)]
struct Line<'a> {
    function: &'a str,
    abs_path: Option<&'a str>,
    file: Option<&'a str>,
    lineno: Option<u64>,
    colno: Option<u64>,
}

impl<'a> Line<'a> {
    /// Takes in an `at FILE:LINE:COL` line (anything else is kept as the path).
    fn locate(&mut self, location: &'a str) {
        let mut parts = location.rsplitn(3, ':');
        let col = parts.next().and_then(|c| c.parse::<u64>().ok());
        let line = parts.next().and_then(|l| l.parse::<u64>().ok());
        match (parts.next(), line, col) {
            (Some(file), Some(line), Some(col)) => {
                self.abs_path = Some(file);
                self.file = Some(file);
                self.lineno = Some(line);
                self.colno = Some(col);
            }
            _ => self.abs_path = Some(location),
        }
    }

    fn frame(&self) -> Frame {
        let function = self.function;
        Frame {
            function: Some(function.to_owned()),
            in_app: Some(
                function.contains("::") && !NOT_IN_APP.iter().any(|p| function.starts_with(p)),
            ),
            abs_path: self.abs_path.map(str::to_owned),
            filename: self.file.map(|f| short_file(f).to_owned()),
            lineno: self.lineno,
            colno: self.colno,
            ..Default::default()
        }
    }
}

/// The path relative to the crate (`src/lib.rs`) or registry package where it can be told.
fn short_file(path: &str) -> &str {
    for marker in [
        "/src/",
        "\\src\\",
        "/tests/",
        "\\tests\\",
        "/examples/",
        "\\examples\\",
        "/benches/",
        "\\benches\\",
    ] {
        if let Some(i) = path.rfind(marker) {
            // keep the package directory: ".../sentry-core-0.49.5/src/hub.rs" -> "sentry-core-0.49.5/src/hub.rs"
            let before = &path[..i];
            let start = memchr::memrchr2(b'/', b'\\', before.as_bytes()).map_or(0, |j| j + 1);
            return &path[start..];
        }
    }
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:13
   1: openadapt_telemetry::layer::capture
             at /home/alice/openadapt-telemetry/src/layer.rs:40:9
   2: tracing_core::event::Event::dispatch
             at /home/alice/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tracing-core-0.1.36/src/event.rs:34:9
   3: myapp::record::start
             at ./src/record.rs:12:5
   4: myapp::main
             at ./src/main.rs:3:5
   5: core::ops::function::FnOnce::call_once
             at /rustc/abc/library/core/src/ops/function.rs:250:5
   6: std::rt::lang_start::{{closure}}
             at /rustc/abc/library/std/src/rt.rs:159:18
   7: main
   8: __libc_start_main
";

    #[test]
    fn parses_and_trims_a_std_backtrace() {
        let frames = parse_backtrace_text(TEXT, None);
        let names: Vec<_> = frames
            .iter()
            .map(|f| f.function.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "core::ops::function::FnOnce::call_once",
                "myapp::main",
                "myapp::record::start"
            ]
        );
        let last = frames.last().expect("a frame");
        assert_eq!(last.lineno, Some(12));
        assert_eq!(last.colno, Some(5));
        assert_eq!(last.filename.as_deref(), Some("./src/record.rs"));
        assert_eq!(last.in_app, Some(true));
        assert_eq!(frames[0].in_app, Some(false));
    }

    #[test]
    fn library_trait_impls_are_not_in_app() {
        let text = "\
   0: myapp::run
             at ./src/main.rs:9:5
   1: <fn() as core::ops::function::FnOnce<()>>::call_once
             at /rustc/abc/library/core/src/ops/function.rs:250:5
   2: <F as core::future::into_future::IntoFuture>::into_future
             at /rustc/abc/library/core/src/future/into_future.rs:140:9
   3: <myapp::Encoder as core::future::Future>::poll
             at ./src/encode.rs:30:9
";
        let in_app: Vec<_> = parse_backtrace_text(text, None)
            .iter()
            .map(|f| (f.function.clone().unwrap_or_default(), f.in_app))
            .collect();
        // Oldest first: the app's own impl of a std trait is the app's code.
        assert_eq!(
            in_app,
            [
                (
                    "<myapp::Encoder as core::future::Future>::poll".to_owned(),
                    Some(true)
                ),
                (
                    "<F as core::future::into_future::IntoFuture>::into_future".to_owned(),
                    Some(false)
                ),
                (
                    "<fn() as core::ops::function::FnOnce<()>>::call_once".to_owned(),
                    Some(false)
                ),
                ("myapp::run".to_owned(), Some(true)),
            ]
        );
    }

    #[test]
    fn the_call_site_is_the_newest_frame() {
        let frames = parse_backtrace_text(TEXT, Some(("src/main.rs", 3)));
        let newest = frames.last().expect("a frame");
        assert_eq!(newest.function.as_deref(), Some("myapp::main"));
        // Without a matching site, the leading capture frames are dropped.
        let frames = parse_backtrace_text(TEXT, Some(("src/other.rs", 1)));
        assert_eq!(
            frames.last().and_then(|f| f.function.as_deref()),
            Some("myapp::record::start")
        );
    }

    #[test]
    fn each_at_line_is_taken_in_turn() {
        // A line without an index (std writes none, but the text is not ours)
        // is skipped, and its `at` line goes to the frame above it; a location
        // without a column replaces the path only.
        let text = "\
   0: myapp::a
             at ./src/a.rs:12:5
      myapp::unnumbered
             at ./src/b.rs:20
   1: myapp::main
             at ./src/main.rs:3:5
";
        let frames = parse_backtrace_text(text, None);
        let a = frames.last().expect("a frame");
        assert_eq!(a.function.as_deref(), Some("myapp::a"));
        assert_eq!(a.abs_path.as_deref(), Some("./src/b.rs:20"));
        assert_eq!(a.filename.as_deref(), Some("./src/a.rs"));
        assert_eq!((a.lineno, a.colno), (Some(12), Some(5)));
        // The call site is matched on that line and path.
        let frames = parse_backtrace_text(text, Some(("src/main.rs", 3)));
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn short_file_keeps_the_package() {
        assert_eq!(
            short_file("/home/a/.cargo/registry/src/x/sentry-core-0.49.5/src/hub.rs"),
            "sentry-core-0.49.5/src/hub.rs"
        );
        assert_eq!(short_file("/home/a/proj/src/main.rs"), "proj/src/main.rs");
        assert_eq!(short_file("lib.rs"), "lib.rs");
        assert_eq!(short_file("/w/proj/tests/tags.rs"), "proj/tests/tags.rs");
    }
}

//! The visitors that turn an event's or a span's fields into what a record
//! keeps: an error's message, `source()` chain (with real type names) and
//! fields; a span's data; feature names. Every value is cut as it is written.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt::{self, Write as _};

use serde_json::Value;
use tracing_core::field::{Field, Visit};

use crate::limits::{self, Bounded, CHAIN, FIELD, FIELDS, MESSAGE, TAG_VALUE};
use crate::queue::{Link, Shared};

pub(super) struct FeatureVisitor<'a>(pub(super) &'a Shared);

impl Visit for FeatureVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "feature" {
            self.0.features.hit(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "feature" {
            let name = limits::format_bounded(value, 256);
            self.0.features.hit(name.trim_matches('"'));
        }
    }
}

#[derive(Default)]
pub(super) struct ErrorVisitor {
    pub(super) message: Option<String>,
    pub(super) chain: Vec<Link>,
    /// The chain came from a `&dyn Error`.
    pub(super) typed: bool,
    /// Its outermost error's `Debug` text.
    pub(super) debug_text: Option<String>,
    /// The error was given as an `error`/`err` field.
    pub(super) error_field: bool,
    pub(super) fields: Vec<(&'static str, String)>,
    pub(super) tags: Vec<(&'static str, String)>,
}

impl ErrorVisitor {
    fn field(&mut self, name: &'static str, value: String) {
        if self.fields.len() < FIELDS {
            self.fields.push((name, value));
        }
    }
}

fn is_error_field(name: &str) -> bool {
    name == "error" || name == "err"
}

impl Visit for ErrorVisitor {
    fn record_error(&mut self, field: &Field, value: &(dyn StdError + 'static)) {
        if self.chain.is_empty() && is_error_field(field.name()) {
            self.chain = chain(value);
            self.typed = true;
            self.debug_text = Some(limits::format_bounded(value, MESSAGE));
            self.error_field = true;
        } else {
            self.field(field.name(), display_bounded(value, FIELD));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(limits::format_bounded(value, MESSAGE)),
            // `#[instrument(err)]` records the error with Display (`err(Debug)`
            // with Debug): no chain, no type, still an exception.
            name if is_error_field(name) && self.chain.is_empty() => {
                self.error_field = true;
                self.chain.push(Link {
                    ty: String::new(),
                    value: limits::format_bounded(value, MESSAGE),
                    kind: None,
                });
            }
            name => match name.strip_prefix("tags.") {
                Some(tag) => {
                    if self.tags.len() < limits::TAGS {
                        self.tags
                            .push((tag, limits::format_bounded(value, TAG_VALUE * 4)));
                    }
                }
                None => self.field(name, limits::format_bounded(value, FIELD)),
            },
        }
    }
}

fn display_bounded(value: &dyn fmt::Display, limit: usize) -> String {
    limits::format_bounded(&format_args!("{value}"), limit)
}

/// The `source()` chain of `error`, outermost first. A chain longer than
/// [`CHAIN`] keeps both ends, the outermost errors and the root cause, with a
/// marker link between them saying how many were left out.
fn chain(error: &(dyn StdError + 'static)) -> Vec<Link> {
    // Walk it all (pointers only), bounded against a chain that never ends.
    let mut all: Vec<&(dyn StdError + 'static)> = Vec::new();
    let mut next = Some(error);
    while let Some(err) = next {
        if all.len() >= 100_000 {
            break;
        }
        all.push(err);
        next = err.source();
    }
    let link = |err: &(dyn StdError + 'static)| {
        let (ty, kind) = type_of(err);
        Link {
            ty,
            value: display_bounded(err, MESSAGE),
            kind,
        }
    };
    if all.len() <= CHAIN {
        return all.into_iter().map(link).collect();
    }
    let head = CHAIN / 2;
    let tail = CHAIN - head - 1;
    let left_out = all.len() - head - tail;
    let mut out: Vec<Link> = all[..head].iter().map(|e| link(*e)).collect();
    out.push(Link {
        ty: "…".to_owned(),
        value: format!("{left_out} links left out"),
        kind: None,
    });
    out.extend(all[all.len() - tail..].iter().map(|e| link(*e)));
    out
}

/// An error's type name: the standard library's errors by their real name
/// (an `io::Error` with its kind), others as far as `Debug` tells (empty:
/// unknown).
fn type_of(err: &(dyn StdError + 'static)) -> (String, Option<String>) {
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        return (
            "std::io::Error".to_owned(),
            Some(format!("{:?}", io.kind())),
        );
    }
    macro_rules! known {
        ($($ty:ty),* $(,)?) => {
            $(
                if err.is::<$ty>() {
                    return (stringify!($ty).replace(' ', ""), None);
                }
            )*
        };
    }
    known!(
        std::num::ParseIntError,
        std::num::ParseFloatError,
        std::num::TryFromIntError,
        std::str::ParseBoolError,
        std::str::Utf8Error,
        std::string::FromUtf8Error,
        std::string::FromUtf16Error,
        std::char::ParseCharError,
        std::char::CharTryFromError,
        std::net::AddrParseError,
        std::fmt::Error,
        std::time::SystemTimeError,
        std::env::VarError,
        std::array::TryFromSliceError,
        std::sync::mpsc::RecvError,
        std::sync::mpsc::RecvTimeoutError,
        std::sync::mpsc::TryRecvError,
        std::ffi::NulError,
        std::ffi::FromBytesWithNulError,
        std::ffi::IntoStringError,
        std::path::StripPrefixError,
        std::alloc::LayoutError,
        std::cell::BorrowError,
        std::cell::BorrowMutError,
    );
    (type_from_debug(err), None)
}

/// The error's type name as far as its `Debug` output tells it
/// (`ParseError { .. }` → `ParseError`); empty when it tells nothing (a
/// quoted message, a lowercase word, the generic `Error` of wrappers).
fn type_from_debug(err: &dyn StdError) -> String {
    let mut debug = String::new();
    let mut w = Bounded::new(&mut debug, 128);
    let _ = write!(w, "{err:?}");
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(debug.len());
    let name = &debug[..end];
    let looks_like_a_type = name
        .rsplit("::")
        .next()
        .and_then(|last| last.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase());
    if looks_like_a_type && name != "Error" {
        name.to_owned()
    } else {
        String::new()
    }
}

pub(super) struct DataVisitor<'a>(pub(super) &'a mut BTreeMap<&'static str, Value>);

impl DataVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if self.0.len() < FIELDS || self.0.contains_key(field.name()) {
            self.0.insert(field.name(), value);
        }
    }
}

impl Visit for DataVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn StdError + 'static)) {
        self.put(field, Value::from(display_bounded(value, FIELD)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(limits::format_bounded(value, FIELD)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        let err = "x".parse::<u32>().expect_err("not a number");
        assert_eq!(type_of(&err).0, "std::num::ParseIntError");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        assert_eq!(
            type_of(&io),
            ("std::io::Error".to_owned(), Some("NotFound".to_owned()))
        );
        #[derive(Debug)]
        struct LoadError;
        impl fmt::Display for LoadError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("load")
            }
        }
        impl StdError for LoadError {}
        assert_eq!(type_of(&LoadError).0, "LoadError");
        #[derive(Debug)]
        struct Quoted(&'static str);
        impl fmt::Display for Quoted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for Quoted {}
        assert_eq!(
            type_from_debug(&"x".parse::<u32>().expect_err("e")),
            "ParseIntError"
        );
        let _ = Quoted("x");
    }

    #[derive(Debug)]
    struct Deep(usize);
    impl fmt::Display for Deep {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "level {}", self.0)
        }
    }
    impl StdError for Deep {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            // A static chain of 1000: each level points at the next.
            static LEVELS: std::sync::OnceLock<Vec<Deep>> = std::sync::OnceLock::new();
            let levels = LEVELS.get_or_init(|| (0..1000).map(Deep).collect());
            levels
                .get(self.0 + 1)
                .map(|d| d as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn deep_chains_keep_both_ends() {
        let links = chain(&Deep(0));
        assert_eq!(links.len(), CHAIN);
        assert_eq!(links[0].value, "level 0");
        assert_eq!(links[CHAIN - 1].value, "level 999", "the root cause");
        let marker = &links[CHAIN / 2];
        assert_eq!(marker.value, format!("{} links left out", 1000 - CHAIN + 1));
    }
}

//! A `source()` chain deeper than the limit keeps both ends: the root cause and
//! the outermost errors, with a marker link saying how many links were left out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::error::Error;
use std::fmt;

use common::capture::{FLUSH, builder, run, start};

const DEPTH: usize = 1000;

/// One link of a deep chain: `depth` 0 is the outermost error, `DEPTH - 1` the
/// root cause.
struct Link {
    depth: usize,
    source: Option<Box<Link>>,
}

// Not derived: a derived `Debug` would print the whole rest of the chain.
impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({})", self.depth)
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.depth {
            0 => f.write_str("could not save the project"),
            d if d == DEPTH - 1 => f.write_str("root cause: the disk is full"),
            d => write!(f, "layer {d} failed"),
        }
    }
}

impl Error for Link {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|l| l as &(dyn Error + 'static))
    }
}

fn chain(depth: usize) -> Link {
    let mut link = Link {
        depth: depth - 1,
        source: None,
    };
    for d in (0..depth - 1).rev() {
        link = Link {
            depth: d,
            source: Some(Box::new(link)),
        };
    }
    link
}

/// The first number in `text`.
fn first_number(text: &str) -> Option<usize> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn a_thousand_deep_chain_keeps_the_root_cause_and_says_what_was_left_out() {
    let (telemetry, captured) = start(builder(&[]));
    let err = chain(DEPTH);
    run(&telemetry, || {
        tracing::error!(error = &err as &dyn Error, "saving failed");
    });
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let values = events[0]["exception"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let texts: Vec<&str> = values.iter().filter_map(|v| v["value"].as_str()).collect();
    let summary = format!(
        "{} exception values, first {:?}, last {:?}",
        texts.len(),
        texts.iter().take(3).collect::<Vec<_>>(),
        texts.iter().rev().take(3).collect::<Vec<_>>()
    );
    assert!(
        texts.contains(&"root cause: the disk is full"),
        "the root cause is kept: {summary}"
    );
    assert!(
        texts.contains(&"could not save the project"),
        "the outermost error is kept: {summary}"
    );
    let markers: Vec<&str> = texts
        .iter()
        .copied()
        .filter(|t| t.contains("links left out"))
        .collect();
    assert_eq!(
        markers.len(),
        1,
        "one marker link says how many links were left out: {summary}"
    );
    let left_out = first_number(markers[0]).expect("the marker gives a number");
    let kept = texts.len() - 1;
    assert_eq!(
        kept + left_out,
        DEPTH,
        "the links kept and the number left out add up to the chain: {:?}, {summary}",
        markers[0]
    );
}

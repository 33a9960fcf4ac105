//! The README's GlitchTip search examples are ones GlitchTip answers (issue 12.7, `shared/notes/glitchtip.md`):
//! search is `key:value`, exact and case-sensitive, and the tags are stored as the Python packages' are
//! (`internal:False`, `ci:True`, `os:Linux`). The seed's `tag:internal IS false` matches nothing, nor does
//! `internal:false`.
#![allow(clippy::expect_used, reason = "a test fails loudly")]

use regex::Regex;

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    std::fs::read_to_string(path).expect("README.md")
}

/// Every line of `text` that `pattern` matches, numbered.
fn offending(text: &str, pattern: &str) -> Vec<String> {
    let re = Regex::new(pattern).expect("a valid pattern");
    text.lines()
        .enumerate()
        .filter(|(_, line)| re.is_match(line))
        .map(|(i, line)| format!("README.md:{}: {}", i + 1, line.trim()))
        .collect()
}

#[test]
fn the_readme_searches_glitchtip_with_syntax_that_works() {
    let text = readme();
    let mut wrong = Vec::new();
    // The seed's notation: `tag:internal IS false`, `... AND tag:x IS y`.
    wrong.extend(offending(&text, r"\btag:\S+\s+IS\b"));
    wrong.extend(offending(&text, r"\bIS\s+(?i:true|false)\b"));
    // Lowercase booleans and OS names: GlitchTip stores `True`/`False`, `Linux`/`Darwin`/`Windows`.
    wrong.extend(offending(&text, r"\b(internal|ci):(true|false)\b"));
    wrong.extend(offending(&text, r"\bos:(linux|macos|darwin|windows)\b"));
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "GlitchTip search examples that match nothing there (write `internal:False`, \
         `is:unresolved internal:False`, `environment=production`):\n{}",
        wrong.join("\n")
    );
    assert!(
        text.contains("internal:False"),
        "the README shows the query for real users' events: `internal:False`"
    );
}

//! Pairs whose key is sensitive (by the key rule of [`keys`]): `key=value`,
//! `key: value`, `"key": "value"`, `key: Some("value")` and the fields of
//! connection strings. The last value rule: the value becomes `[Filtered]`,
//! whatever the other rules left of it.

use std::ops::Range;

use super::keys;
use super::rewrite::{FILTERED, MARKERS, Rewriter, at, before, escape_before};
use super::{Redactions, Rule};

/// Words that introduce a credential after `Authorization:` and its kin.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "negotiate", "ntlm"];

/// How far an unquoted value runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extent {
    /// To a blank or a delimiter.
    Word,
    /// To the end of the line (`Cookie`, `Authorization`).
    Line,
    /// To the next `;` or the end of the line (a connection string's field,
    /// which may hold blanks: `Password=my pass word;`).
    Field,
}

/// Whether the pair whose key starts at `key_start` (its value after `from`) is
/// a field of a connection string (`Server=x;User Id=y;Password=z;`,
/// `Driver={…};PWD=…`): a `;` right before the key, or the value followed, in
/// the same line and before any `=` or quote, by `;` and another `Key=`. Looks
/// at most 256 bytes ahead.
fn in_connection_string(s: &str, key_start: usize, from: usize) -> bool {
    let b = s.as_bytes();
    let mut i = key_start;
    while i > 0 && matches!(b[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    if i > 0 && b[i - 1] == b';' {
        return true;
    }
    let window = &b[from.min(b.len())..(from + 256).min(b.len())];
    let Some(semi) = window
        .iter()
        .position(|c| matches!(c, b';' | b'\n' | b'\r' | b'"' | b'\'' | b'=' | b'\\'))
    else {
        return false;
    };
    if window[semi] != b';' {
        return false;
    }
    // `;` then a key (letters, digits, blanks, `_`) and `=`.
    let next = &b[from + semi + 1..];
    let key_len = next
        .iter()
        .take(64)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'_'))
        .count();
    key_len > 0
        && next[..key_len].iter().any(u8::is_ascii_alphabetic)
        && next.get(key_len) == Some(&b'=')
}

/// Keys whose unquoted value runs to the end of the line (`Cookie: a=b; c=d`).
fn whole_line_key(key: &str) -> bool {
    keys::tokens(key).any(|t| {
        ["cookie", "setcookie", "authorization"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
    })
}

/// `key=value`, `key: value`, `"key": "value"` (also with `\"` escapes and
/// `Some("…")`) whose key is sensitive: the value becomes `[Filtered]`, quotes kept.
pub(crate) fn pairs(s: &str, counts: &mut Redactions) -> Option<String> {
    let bytes = s.as_bytes();
    let mut w = Rewriter::new(s);
    let mut i = 0;
    // From one `=` or `:` to the next (vector code in between).
    while let Some(k) = bytes
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'=', b':', rest))
    {
        i += k;
        let b = bytes[i];
        let op = i;
        i += 1;
        if b == b':'
            && (at(s, op + 1) == Some(b':')
                || before(s, op) == Some(b':')
                || s[op..].starts_with("://")
                || s[op..].starts_with(":\\/\\/"))
        {
            continue;
        }
        if b == b'=' && (at(s, op + 1) == Some(b'=') || before(s, op) == Some(b'=')) {
            continue;
        }
        if op < w.position() {
            continue;
        }
        let Some((key_start, key)) = key_before(s, op) else {
            continue;
        };
        if !keys::is_sensitive(key) {
            continue;
        }
        let extent = if whole_line_key(key) {
            Extent::Line
        } else if in_connection_string(s, key_start, op + 1) {
            Extent::Field
        } else {
            Extent::Word
        };
        if let Some(value) = value_after(s, op + 1, extent) {
            let text = &s[value.clone()];
            if !MARKERS.contains(&text) && w.replace(value.clone(), FILTERED) {
                counts.bump(Rule::KeyValue);
            }
            i = i.max(value.end);
        }
    }
    w.finish()
}

/// The key that ends just before the operator at `op`, if any: a quoted key
/// (`"key"`, `'key'`, `\"key\"`) or a run of key characters, at most 64 bytes;
/// with where it starts (its opening quote, if quoted).
fn key_before(s: &str, op: usize) -> Option<(usize, &str)> {
    const MAX: usize = 64;
    let bytes = s.as_bytes();
    let mut end = op;
    while end > 0 && end + 4 > op && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let last = *bytes.get(end.checked_sub(1)?)?;
    if last == b'"' || last == b'\'' {
        let close = end - 1;
        let mut start = close;
        while start > 0 && close - start <= MAX {
            let c = bytes[start - 1];
            if c == last || c == b'\n' {
                break;
            }
            start -= 1;
        }
        if start == 0 || bytes[start - 1] != last || close - start > MAX {
            return None;
        }
        return Some((start - 1, s.get(start..close)?));
    }
    let mut start = end;
    while start > 0 && end - start < MAX && is_key_byte(bytes[start - 1]) {
        start -= 1;
    }
    // `\npassword=`: the key starts after the escape sequence.
    if escape_before(s, start + 1) {
        start += 1;
    }
    if start == end {
        return None;
    }
    // A path or a file name is not a key: `src/auth.rs:42`, `session.py:10`.
    let key = s.get(start..end)?;
    if (start > 0 && matches!(bytes[start - 1], b'/' | b'\\')) || is_file_name(key) {
        return None;
    }
    Some((start, key))
}

/// Extensions of source and data files: `name.EXT` before a `:` is a location.
const FILE_EXTENSIONS: &[&str] = &[
    "rs", "py", "pyi", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "c", "h", "cc", "cpp", "hpp",
    "java", "kt", "swift", "rb", "php", "cs", "m", "mm", "toml", "json", "yaml", "yml", "txt",
    "log", "md", "lock", "html", "css",
];

/// Whether `key` is a file name (`auth.rs`, `token_store.py`).
fn is_file_name(key: &str) -> bool {
    key.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && FILE_EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    })
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The value that starts after the operator (blanks skipped): the inside of quotes
/// or of ODBC braces (`{…}`, `}}` escaping a `}`), or an unquoted run as far as
/// `extent` says; `Some("…")` and `Bearer …` are understood.
fn value_after(s: &str, from: usize, extent: Extent) -> Option<Range<usize>> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() && i < from + 4 && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    let mut rest = s.get(i..)?;
    // `Some("…")`, `Some(\"…\")`, `Some(…)`: the value is inside.
    if let Some(inner) = rest.strip_prefix("Some(") {
        i += 5;
        rest = inner;
    }
    // A quote, escaped any number of times (`"`, `\"`, `\\\"` in text that was
    // escaped twice): the value ends at the same sequence.
    let slashes = rest.bytes().take_while(|&b| b == b'\\').count();
    if let Some(&quote) = rest.as_bytes().get(slashes)
        && (quote == b'"' || quote == b'\'')
    {
        let (open, inner) = rest.split_at(slashes + 1);
        let start = i + open.len();
        let len = if slashes == 0 {
            quoted_len(inner, char::from(quote))
        } else {
            inner.find(open).unwrap_or_else(|| line_len(inner, false))
        };
        return Some(start..start + len);
    }
    if let Some(inner) = rest.strip_prefix('{') {
        let len = braced_len(inner);
        return (len > 0).then_some(i + 1..i + 1 + len);
    }
    if extent != Extent::Word {
        let len = line_len(rest, extent == Extent::Field);
        let trimmed = rest[..len].trim_end().len();
        return (trimmed > 0).then_some(i..i + trimmed);
    }
    let mut len = unquoted_len(rest);
    // The value goes on through a marker another rule wrote
    // (`password=[ip]:hunter2`) and through the value of a nested pair
    // (`auth=token="x y"`, `password: auth: x`). Each step consumes text: linear.
    loop {
        let tail = &rest[len..];
        if let Some(marker) = MARKERS.iter().find(|m| tail.starts_with(**m)) {
            len += marker.len();
        } else if rest[..len].ends_with(['=', ':']) {
            let mut blanks = tail.len() - tail.trim_start_matches([' ', '\t']).len();
            let mut after = &tail[blanks..];
            if let Some(inner) = after.strip_prefix("Some(") {
                blanks += 5;
                after = inner;
            }
            match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    len += blanks + 1 + quoted_len(&after[1..], quote);
                    if rest[len..].starts_with(quote) {
                        len += 1;
                    }
                }
                _ if unquoted_len(after) > 0 => len += blanks,
                _ => break,
            }
        } else {
            break;
        }
        len += unquoted_len(&rest[len..]);
    }
    if len == 0 {
        return None;
    }
    // `password: Password=my pass;Server=x`: the value is a pair of a
    // connection string, whose value runs to its `;`.
    if let Some(eq) = rest[..len].find('=')
        && in_connection_string(s, i, i + eq + 1)
    {
        let field = line_len(&rest[eq + 1..], true);
        let field = rest[eq + 1..eq + 1 + field].trim_end().len();
        len = len.max(eq + 1 + field);
    }
    // `Bearer abc`, `Basic abc`: take the credential after the scheme word too.
    if AUTH_SCHEMES
        .iter()
        .any(|w| rest[..len].eq_ignore_ascii_case(w))
    {
        let after = &rest[len..];
        let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
        let next = unquoted_len(&after[blanks..]);
        if blanks > 0 && next > 0 {
            len += blanks + next;
        }
    }
    Some(i..i + len)
}

/// The length of a quoted value up to its closing quote (backslash escapes
/// honoured), or to the end of the line if it is not closed.
fn quoted_len(inner: &str, quote: char) -> usize {
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\n' => return i,
            c if c == quote => return i,
            _ => {}
        }
    }
    inner.len()
}

/// The length of a value in ODBC braces up to its closing brace (`}}` within
/// the value is an escaped `}`), or to the end of the line if it is not closed.
fn braced_len(inner: &str) -> usize {
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() && !line_ends(b, i) {
        if b[i] == b'}' {
            // `}}` inside the value escapes a `}`; at its end (`{"a": "b"}}`,
            // JSON nested in text) it closes the value and what holds it.
            let escaped = b.get(i + 1) == Some(&b'}')
                && b.get(i + 2)
                    .is_some_and(|c| !c.is_ascii_whitespace() && !b";,\"'".contains(c));
            if escaped {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    i
}

/// The length of the line: up to a line break, or an escaped one (`\n`, `\r`);
/// with `field`, up to a `;` if one comes first.
fn line_len(text: &str, field: bool) -> usize {
    let b = text.as_bytes();
    (0..b.len())
        .find(|&i| line_ends(b, i) || (field && b[i] == b';'))
        .unwrap_or(b.len())
}

/// Whether a line break, or an escaped one (`\n`, `\r`), starts at `i`.
fn line_ends(b: &[u8], i: usize) -> bool {
    matches!(b[i], b'\n' | b'\r') || (b[i] == b'\\' && matches!(b.get(i + 1), Some(b'n' | b'r')))
}

/// The length of an unquoted value: up to a blank, a delimiter or an escape
/// sequence (`\n`, `\r`, `\t`).
fn unquoted_len(text: &str) -> usize {
    let b = text.as_bytes();
    text.char_indices()
        .find(|&(i, c)| {
            c.is_whitespace()
                || ",;&\"'<>(){}[]".contains(c)
                || (c == '\\' && matches!(b.get(i + 1), Some(b'n' | b'r' | b't')))
        })
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::super::patterns::Patterns;
    use super::super::patterns::tests::table;
    use super::*;

    fn pairs_pass(_: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
        pairs(s, counts)
    }

    #[test]
    fn pair_rule() {
        table(
            pairs_pass,
            Rule::KeyValue,
            &[
                ("password=hunter2 next", Some("password=[Filtered] next")),
                ("db password = hunter2", Some("db password = [Filtered]")),
                ("api_key: abc123", Some("api_key: [Filtered]")),
                ("X-Api-Key: abc123", Some("X-Api-Key: [Filtered]")),
                (
                    r#"{"password": "hunter 2", "user": "x"}"#,
                    Some(r#"{"password": "[Filtered]", "user": "x"}"#),
                ),
                (
                    r#"{"token":"a\"b","n":1}"#,
                    Some(r#"{"token":"[Filtered]","n":1}"#),
                ),
                (
                    r#"{\"secret\":\"s3cr3t\"}"#,
                    Some(r#"{\"secret\":\"[Filtered]\"}"#),
                ),
                (
                    "Config { api_key: \"abc\", token: Some(\"xyz\") }",
                    Some("Config { api_key: \"[Filtered]\", token: Some(\"[Filtered]\") }"),
                ),
                (
                    "user=bob&password=x&page=2",
                    Some("user=bob&password=[Filtered]&page=2"),
                ),
                ("a=password=hunter2", Some("a=password=[Filtered]")),
                (
                    "Authorization: Bearer abc.def",
                    Some("Authorization: [Filtered]"),
                ),
                (
                    "authorization=Basic dXNlcjpwYXNz",
                    Some("authorization=[Filtered]"),
                ),
                ("Cookie: a=b; sid=c\nnext", Some("Cookie: [Filtered]\nnext")),
                ("sessionToken='x y'", Some("sessionToken='[Filtered]'")),
                (
                    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
                    Some("AWS_SECRET_ACCESS_KEY=[Filtered]"),
                ),
                ("--api-key=abc", Some("--api-key=[Filtered]")),
                // The Python family's key words.
                ("e-mail: bob", Some("e-mail: [Filtered]")),
                ("pin=1234 retries=3", Some("pin=[Filtered] retries=3")),
                (
                    r#"{"city": "Paris", "zip": "75001"}"#,
                    Some(r#"{"city": "[Filtered]", "zip": "[Filtered]"}"#),
                ),
                ("DB_PASS=hunter2", Some("DB_PASS=[Filtered]")),
                ("tax_id: 12-3456789", Some("tax_id: [Filtered]")),
                ("pass_count=3 zip_file=a.zip pin_memory=true", None),
                // Connection strings: a field runs to `;`, ODBC braces quote.
                (
                    "Server=db;Database=app;User Id=sa;Password=my pass word;Encrypt=true",
                    Some("Server=db;Database=app;User Id=sa;Password=[Filtered];Encrypt=true"),
                ),
                (
                    "Password=pa ss;Server=db",
                    Some("Password=[Filtered];Server=db"),
                ),
                // Found by the property test: a connection string as the
                // value of another sensitive pair.
                (
                    "password: Password=0AAA*0 AA0aaa;Server=a0a0.example.com",
                    Some("password: [Filtered];Server=a0a0.example.com"),
                ),
                (
                    "Driver={ODBC Driver 18};Server=db;UID=sa;PWD={a;b}}c};",
                    Some("Driver={ODBC Driver 18};Server=db;UID=sa;PWD={[Filtered]};"),
                ),
                (
                    "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=Secret1;",
                    Some("jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=[Filtered];"),
                ),
                (
                    "host=db port=5432 dbname=app user=x password=s3cret sslmode=require",
                    Some("host=db port=5432 dbname=app user=x password=[Filtered] sslmode=require"),
                ),
                (
                    "password=abc; retrying",
                    Some("password=[Filtered]; retrying"),
                ),
                (
                    r#"{"secret": {"a": "b"}}"#,
                    Some(r#"{"secret": {[Filtered]}}"#),
                ),
                ("token=[jwt]", None),
                ("password=[Filtered]", None),
                ("session_count=5", None),
                ("author: Jane", None),
                ("token::parse failed", None),
                ("std::io::Error: token", None),
                ("src/layer.rs:42", None),
                ("https://x.io/a", None),
                ("password == other", None),
                ("password:", None),
                ("feature=capture.record", None),
            ],
        );
    }
}

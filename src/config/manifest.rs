//! The repository-wide opt-out: a `pyproject.toml` with `[tool.openadapt]`
//! `telemetry = false`, or a `Cargo.toml` with `[package.metadata.openadapt]`
//! or `[workspace.metadata.openadapt]` `telemetry = false`, in the working
//! directory or a folder above it.
//!
//! The walk goes up from the working directory and stops at the first
//! manifest that has one of these tables (whatever its `telemetry` says), at
//! the home directory (which is still looked at), or after 32 folders. In a
//! folder, `pyproject.toml` is looked at before `Cargo.toml`. Files are read
//! as every file is ([`crate::fs`]): regular files only, at most 1 MiB.
//!
//! `telemetry` is read as the Python package reads it: `true`, `1` and the
//! strings `"true"`, `"1"`, `"yes"`, `"on"` (any case) leave telemetry on;
//! any other value turns it off.
//!
//! The TOML reader is deliberately small: it parses the syntax of TOML 1.0
//! (comments, bare, quoted and dotted keys, the four kinds of strings, arrays,
//! inline tables, tables and arrays of tables) and keeps only booleans,
//! strings and the text of other scalars, which is all the opt-out needs. A
//! line it cannot parse is skipped, not fatal: a manifest is never a reason
//! for `init` to fail. It does not check what TOML forbids beyond that
//! (duplicate keys, redefined tables): cargo and pip report those.

use std::path::{Path, PathBuf};

use crate::fs::{self, CONFIG_LIMIT};

/// How many folders the walk looks at, the working directory included.
const MAX_LEVELS: usize = 32;

/// Tables that hold the opt-out: as written in TOML, and as a key path.
type Tables = &'static [(&'static str, &'static [&'static str])];

/// The manifests looked at in each folder, and the tables that hold the opt-out.
const MANIFESTS: [(&str, Tables); 2] = [
    (
        "pyproject.toml",
        &[("[tool.openadapt]", &["tool", "openadapt"])],
    ),
    (
        "Cargo.toml",
        &[
            (
                "[package.metadata.openadapt]",
                &["package", "metadata", "openadapt"],
            ),
            (
                "[workspace.metadata.openadapt]",
                &["workspace", "metadata", "openadapt"],
            ),
        ],
    ),
];

/// The manifest that decided, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The manifest.
    pub(crate) path: PathBuf,
    /// The table, as written in TOML: `[tool.openadapt]`.
    pub(crate) table: &'static str,
    /// The `telemetry` value as written (`false`, `"no"`), if there is one.
    pub(crate) value: Option<String>,
    /// Whether it turns telemetry off.
    pub(crate) off: bool,
}

/// The nearest manifest at or above `cwd` that has an OpenAdapt table; `home`
/// is the last folder looked at. Files that cannot be read are reported in
/// `warnings` (one line each, without the prefix) and passed over.
pub(crate) fn find(cwd: &Path, home: Option<&Path>, warnings: &mut Vec<String>) -> Option<Found> {
    let mut dir = Some(cwd);
    for _ in 0..MAX_LEVELS {
        let here = dir?;
        for (name, tables) in MANIFESTS {
            let path = here.join(name);
            let text = match fs::read_text(&path, CONFIG_LIMIT) {
                Ok(Some(text)) => text,
                Ok(None) => continue,
                Err(e) => {
                    warnings.push(format!(
                        "cannot read {} for a repository opt-out: {e}",
                        path.display()
                    ));
                    continue;
                }
            };
            let doc = parse(&text);
            let mut found: Option<Found> = None;
            for &(table, keys) in tables.iter() {
                if !doc.has_table(keys) {
                    continue;
                }
                let mut key: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
                key.push("telemetry".to_owned());
                let value = doc.get(&key);
                let off = value.is_some_and(|v| !v.truthy());
                // the first table that turns it off, else the first table
                if found.as_ref().is_none_or(|f| off && !f.off) {
                    found = Some(Found {
                        path: path.clone(),
                        table,
                        value: value.map(Scalar::show),
                        off,
                    });
                }
            }
            if found.is_some() {
                return found;
            }
        }
        if home.is_some_and(|home| home == here) {
            return None;
        }
        dir = here.parent();
    }
    None
}

/// A value kept by the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar {
    Bool(bool),
    Str(String),
    /// A number, date or time: its text.
    Other(String),
    /// An array or an inline table.
    Compound,
}

impl Scalar {
    /// True as Python's `str(value).strip().lower() in {"1", "true", "yes", "on"}`.
    fn truthy(&self) -> bool {
        let text = match self {
            Self::Bool(b) => return *b,
            Self::Str(s) => s.as_str(),
            Self::Other(s) => s.as_str(),
            Self::Compound => return false,
        };
        let text = text.trim();
        ["1", "true", "yes", "on"]
            .iter()
            .any(|t| text.eq_ignore_ascii_case(t))
    }

    /// The value as it would be written in TOML (short).
    fn show(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Str(s) => format!("{s:?}"),
            Self::Other(s) => s.clone(),
            Self::Compound => "a table or array".to_owned(),
        }
    }
}

/// What the reader keeps of a document: the tables defined and the scalar
/// values with their full key paths.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    tables: Vec<Vec<String>>,
    values: Vec<(Vec<String>, Scalar)>,
}

impl Doc {
    /// Whether the table `path` exists: a header, an inline table, or a key
    /// below it.
    pub(crate) fn has_table(&self, path: &[&str]) -> bool {
        let same =
            |key: &[String]| key.len() >= path.len() && key.iter().zip(path).all(|(a, b)| a == b);
        self.tables.iter().any(|t| t.len() == path.len() && same(t))
            || self
                .values
                .iter()
                .any(|(k, _)| k.len() > path.len() && same(k))
    }

    /// The value at the full key path `path`.
    pub(crate) fn get(&self, path: &[String]) -> Option<&Scalar> {
        self.values
            .iter()
            .find(|(k, _)| k.as_slice() == path)
            .map(|(_, v)| v)
    }
}

/// Reads `text` as TOML, keeping what [`Doc`] keeps. Never fails: a line that
/// cannot be parsed is skipped.
pub(crate) fn parse(text: &str) -> Doc {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        doc: Doc::default(),
    };
    // None: inside an array of tables, whose keys are not kept
    let mut table: Option<Vec<String>> = Some(Vec::new());
    while p.i < p.s.len() {
        let start = p.i;
        if p.line(&mut table).is_err() {
            // skip the rest of the line the error is on
            p.i = p.i.max(start);
            while let Some(c) = p.peek() {
                p.i += 1;
                if c == b'\n' {
                    break;
                }
            }
        }
    }
    p.doc
}

/// A parse error (where it is does not matter: the line is skipped).
struct Bad;

type Parsed<T> = Result<T, Bad>;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    doc: Doc,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.i + ahead).copied()
    }

    fn starts_with(&self, text: &[u8]) -> bool {
        self.s[self.i..].starts_with(text)
    }

    fn expect(&mut self, c: u8) -> Parsed<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// Spaces and tabs.
    fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Spaces, tabs, comments and newlines (inside arrays and inline tables).
    fn space(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.i += 1,
                Some(b'#') => self.comment(),
                _ => return,
            }
        }
    }

    /// A comment, up to (not including) the end of the line.
    fn comment(&mut self) {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.i += 1;
        }
    }

    /// The end of a line: blanks, a comment, then a newline or the end.
    fn end_of_line(&mut self) -> Parsed<()> {
        self.blank();
        if self.peek() == Some(b'#') {
            self.comment();
        }
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.i += 1;
                Ok(())
            }
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                self.i += 2;
                Ok(())
            }
            _ => Err(Bad),
        }
    }

    /// One line of the document: blank, a comment, a header or a key/value.
    fn line(&mut self, table: &mut Option<Vec<String>>) -> Parsed<()> {
        self.blank();
        match self.peek() {
            None | Some(b'\n' | b'\r' | b'#') => self.end_of_line(),
            Some(b'[') => {
                self.i += 1;
                let array = self.peek() == Some(b'[');
                if array {
                    self.i += 1;
                }
                self.blank();
                let key = self.key()?;
                self.blank();
                self.expect(b']')?;
                if array {
                    self.expect(b']')?;
                    *table = None;
                } else {
                    self.doc.tables.push(key.clone());
                    *table = Some(key);
                }
                self.end_of_line()
            }
            Some(_) => {
                let key = self.key()?;
                self.blank();
                self.expect(b'=')?;
                self.blank();
                let path = table.as_ref().map(|t| [t.as_slice(), &key].concat());
                self.value(path)?;
                self.end_of_line()
            }
        }
    }

    /// A dotted key: `a`, `a.b`, `"a b" . 'c'`.
    fn key(&mut self) -> Parsed<Vec<String>> {
        let mut parts = vec![self.simple_key()?];
        loop {
            let mark = self.i;
            self.blank();
            if self.peek() == Some(b'.') {
                self.i += 1;
                self.blank();
                parts.push(self.simple_key()?);
            } else {
                self.i = mark;
                return Ok(parts);
            }
        }
    }

    fn simple_key(&mut self) -> Parsed<String> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                self.basic_string()
            }
            Some(b'\'') => {
                self.i += 1;
                self.literal_string()
            }
            _ => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(Bad);
                }
                Ok(self.text(start, self.i))
            }
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        String::from_utf8_lossy(&self.s[start..end]).into_owned()
    }

    /// A value; kept (scalars) or expanded (inline tables) under `path`,
    /// unless `path` is `None`.
    fn value(&mut self, path: Option<Vec<String>>) -> Parsed<()> {
        let scalar = match self.peek() {
            Some(b'"') if self.starts_with(b"\"\"\"") => {
                self.i += 3;
                Scalar::Str(self.multiline(b'"')?)
            }
            Some(b'"') => {
                self.i += 1;
                Scalar::Str(self.basic_string()?)
            }
            Some(b'\'') if self.starts_with(b"'''") => {
                self.i += 3;
                Scalar::Str(self.multiline(b'\'')?)
            }
            Some(b'\'') => {
                self.i += 1;
                Scalar::Str(self.literal_string()?)
            }
            Some(b'[') => {
                self.i += 1;
                self.array()?;
                Scalar::Compound
            }
            Some(b'{') => {
                self.i += 1;
                self.inline_table(path.as_deref())?;
                return Ok(());
            }
            _ => self.bare_scalar()?,
        };
        if let Some(path) = path {
            self.doc.values.push((path, scalar));
        }
        Ok(())
    }

    /// `true`, `false`, a number, a date or a time.
    fn bare_scalar(&mut self) -> Parsed<Scalar> {
        let start = self.i;
        loop {
            match self.peek() {
                None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b'#') => {
                    // a date and a time separated by a space: 1979-05-27 07:32:00
                    let token = &self.s[start..self.i];
                    let date = token.len() == 10
                        && token.iter().enumerate().all(|(n, c)| {
                            if n == 4 || n == 7 {
                                *c == b'-'
                            } else {
                                c.is_ascii_digit()
                            }
                        });
                    if date
                        && self.peek() == Some(b' ')
                        && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                    {
                        self.i += 1;
                        continue;
                    }
                    break;
                }
                Some(_) => self.i += 1,
            }
        }
        if self.i == start {
            return Err(Bad);
        }
        Ok(match &self.s[start..self.i] {
            b"true" => Scalar::Bool(true),
            b"false" => Scalar::Bool(false),
            other => {
                let c = other[0];
                if !(c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'i' | b'n')) {
                    return Err(Bad);
                }
                Scalar::Other(self.text(start, self.i))
            }
        })
    }

    fn array(&mut self) -> Parsed<()> {
        loop {
            self.space();
            if self.peek() == Some(b']') {
                self.i += 1;
                return Ok(());
            }
            self.value(None)?;
            self.space();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    /// `{ k = v, … }`, newlines and a trailing comma allowed (TOML 1.1).
    fn inline_table(&mut self, path: Option<&[String]>) -> Parsed<()> {
        if let Some(path) = path {
            self.doc.tables.push(path.to_vec());
        }
        loop {
            self.space();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(());
            }
            let key = self.key()?;
            self.blank();
            self.expect(b'=')?;
            self.blank();
            self.value(path.map(|p| [p, &key].concat()))?;
            self.space();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    /// The rest of a `"…"` string, its escapes decoded.
    fn basic_string(&mut self) -> Parsed<String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n' | b'\r') => return Err(Bad),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| Bad);
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// The rest of a `'…'` string.
    fn literal_string(&mut self) -> Parsed<String> {
        let start = self.i;
        loop {
            match self.peek() {
                None | Some(b'\n' | b'\r') => return Err(Bad),
                Some(b'\'') => {
                    let text = self.text(start, self.i);
                    self.i += 1;
                    return Ok(text);
                }
                Some(_) => self.i += 1,
            }
        }
    }

    /// The rest of a `"""…"""` (escapes decoded) or `'''…'''` string.
    fn multiline(&mut self, quote: u8) -> Parsed<String> {
        // a newline right after the opening delimiter is not part of the string
        if self.starts_with(b"\r\n") {
            self.i += 2;
        } else if self.peek() == Some(b'\n') {
            self.i += 1;
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(Bad),
                Some(c) if c == quote => {
                    let run = self.s[self.i..].iter().take_while(|&&b| b == quote).count();
                    if run >= 3 {
                        if run > 5 {
                            return Err(Bad);
                        }
                        // up to two quotes may end the content
                        out.extend(std::iter::repeat_n(quote, run - 3));
                        self.i += run;
                        return String::from_utf8(out).map_err(|_| Bad);
                    }
                    out.extend(std::iter::repeat_n(quote, run));
                    self.i += run;
                }
                Some(b'\\') if quote == b'"' => {
                    self.i += 1;
                    // a backslash at the end of a line trims the line break and
                    // the blanks that follow
                    let mark = self.i;
                    self.blank();
                    if matches!(self.peek(), Some(b'\n' | b'\r')) {
                        self.space_only();
                    } else {
                        self.i = mark;
                        self.escape(&mut out)?;
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// Blanks and newlines only (no comments: inside a string).
    fn space_only(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        let c = self.peek().ok_or(Bad)?;
        self.i += 1;
        let simple = match c {
            b'b' => Some(0x08),
            b't' => Some(b'\t'),
            b'n' => Some(b'\n'),
            b'f' => Some(0x0c),
            b'r' => Some(b'\r'),
            b'e' => Some(0x1b),
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            return Ok(());
        }
        let digits = match c {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => return Err(Bad),
        };
        let hex = self.s.get(self.i..self.i + digits).ok_or(Bad)?;
        let hex = std::str::from_utf8(hex).map_err(|_| Bad)?;
        let code = u32::from_str_radix(hex, 16).map_err(|_| Bad)?;
        let ch = char::from_u32(code).ok_or(Bad)?;
        self.i += digits;
        let mut buf = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Vec<String> {
        path.split('.').map(str::to_owned).collect()
    }

    /// What `tool.openadapt.telemetry` is in `text`, and whether the table exists.
    fn tool(text: &str) -> (bool, Option<Scalar>) {
        let doc = parse(text);
        (
            doc.has_table(&["tool", "openadapt"]),
            doc.get(&key("tool.openadapt.telemetry")).cloned(),
        )
    }

    const OFF: (bool, Option<Scalar>) = (true, Some(Scalar::Bool(false)));

    #[test]
    fn every_way_of_writing_the_opt_out() {
        let cases = [
            "[tool.openadapt]\ntelemetry = false\n",
            "[tool.openadapt]\ntelemetry=false",
            "  [ tool . openadapt ]  # ours\n  telemetry = false # off\n",
            "[tool.\"openadapt\"]\n\"telemetry\" = false\n",
            "['tool'.'openadapt']\n'telemetry' = false\n",
            "[tool]\nopenadapt.telemetry = false\n",
            "[tool]\nopenadapt = { telemetry = false }\n",
            "[tool]\nopenadapt = {name = \"x\", telemetry = false}\n",
            "tool.openadapt.telemetry = false\n",
            "tool = { openadapt = { telemetry = false } }\n",
            "[tool]\nopenadapt = {\n  telemetry = false,\n}\n",
            "[tool.openadapt]\r\ntelemetry = false\r\n",
            "[project]\nname = \"x\"\n[tool.openadapt]\nother = 1\ntelemetry = false\n[tool.ruff]\nline-length = 100\n",
        ];
        for text in cases {
            assert_eq!(tool(text), OFF, "{text:?}");
        }
    }

    #[test]
    fn what_is_not_the_opt_out() {
        let cases: [(&str, (bool, Option<Scalar>)); 9] = [
            ("", (false, None)),
            ("[tool.openadaptx]\ntelemetry = false\n", (false, None)),
            ("[tool.openadapt.sub]\ntelemetry = false\n", (true, None)),
            ("[tool]\ntelemetry = false\n", (false, None)),
            ("# [tool.openadapt]\n# telemetry = false\n", (false, None)),
            // a header inside a multi-line string is text
            (
                "description = \"\"\"\n[tool.openadapt]\ntelemetry = false\n\"\"\"\n",
                (false, None),
            ),
            (
                "description = '''\n[tool.openadapt]\ntelemetry = false\n'''\n",
                (false, None),
            ),
            // a key after a multi-line array stays in its table
            (
                "[other]\nmatrix = [\n  [1, 2], # [tool.openadapt]\n  [3],\n]\ntelemetry = false\n",
                (false, None),
            ),
            // an array of tables is not the table
            ("[[tool.openadapt]]\ntelemetry = false\n", (false, None)),
        ];
        for (text, expected) in cases {
            assert_eq!(tool(text), expected, "{text:?}");
        }
    }

    #[test]
    fn values_and_strings() {
        let text = r#"
[tool.openadapt]
a = "tab\there \"q\" \u00e9 \U0001F600"
b = 'C:\path\'
c = """
line one \
    continued ""quoted"""""
d = '''
raw \n '' '''
e = 1979-05-27 07:32:00Z
f = [1, "two", { three = 3 }]
g = -inf
h = 0x1F
"#;
        let doc = parse(text);
        let get = |k: &str| doc.get(&key(&format!("tool.openadapt.{k}"))).cloned();
        assert_eq!(
            get("a"),
            Some(Scalar::Str("tab\there \"q\" é 😀".to_owned()))
        );
        assert_eq!(get("b"), Some(Scalar::Str("C:\\path\\".to_owned())));
        assert_eq!(
            get("c"),
            Some(Scalar::Str("line one continued \"\"quoted\"\"".to_owned()))
        );
        assert_eq!(get("d"), Some(Scalar::Str("raw \\n '' ".to_owned())));
        assert_eq!(
            get("e"),
            Some(Scalar::Other("1979-05-27 07:32:00Z".to_owned()))
        );
        assert_eq!(get("f"), Some(Scalar::Compound));
        assert_eq!(get("g"), Some(Scalar::Other("-inf".to_owned())));
        assert_eq!(get("h"), Some(Scalar::Other("0x1F".to_owned())));
    }

    #[test]
    fn a_bad_line_is_skipped_and_the_rest_is_read() {
        let text = "[tool.openadapt]\nthis is not toml\nx = \"unterminated\ntelemetry = false\n";
        assert_eq!(tool(text), OFF);
    }

    #[test]
    fn truthy_as_python_reads_it() {
        for on in [
            Scalar::Bool(true),
            Scalar::Str("yes".to_owned()),
            Scalar::Str(" TRUE ".to_owned()),
            Scalar::Str("on".to_owned()),
            Scalar::Other("1".to_owned()),
        ] {
            assert!(on.truthy(), "{on:?}");
        }
        for off in [
            Scalar::Bool(false),
            Scalar::Str("no".to_owned()),
            Scalar::Str("".to_owned()),
            Scalar::Other("0".to_owned()),
            Scalar::Other("1.0".to_owned()),
            Scalar::Compound,
        ] {
            assert!(!off.truthy(), "{off:?}");
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "openadapt-telemetry-manifest-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_walk_finds_the_nearest_manifest_with_the_table() {
        let root = scratch("walk");
        let deep = root.join("repo").join("a").join("b");
        std::fs::create_dir_all(&deep).unwrap();
        let mut warnings = Vec::new();
        assert_eq!(find(&deep, Some(&root), &mut warnings), None);

        // two levels up, a pyproject.toml; a manifest without the table on the way
        let pyproject = root.join("repo").join("pyproject.toml");
        std::fs::write(&pyproject, "[tool.openadapt]\ntelemetry = false\n").unwrap();
        std::fs::write(deep.join("Cargo.toml"), "[package]\nname = \"b\"\n").unwrap();
        let found = find(&deep, Some(&root), &mut warnings).unwrap();
        assert_eq!(
            found,
            Found {
                path: pyproject.clone(),
                table: "[tool.openadapt]",
                value: Some("false".to_owned()),
                off: true,
            }
        );

        // a nearer Cargo.toml with workspace metadata decides first
        let cargo = root.join("repo").join("a").join("Cargo.toml");
        std::fs::write(
            &cargo,
            "[workspace]\nmembers = [\"b\"]\n[workspace.metadata.openadapt]\ntelemetry = true\n",
        )
        .unwrap();
        let found = find(&deep, Some(&root), &mut warnings).unwrap();
        assert_eq!((found.path.as_path(), found.off), (cargo.as_path(), false));
        std::fs::write(
            &cargo,
            "[package.metadata.openadapt]\n[workspace.metadata]\nopenadapt = { telemetry = \"no\" }\n",
        )
        .unwrap();
        let found = find(&deep, Some(&root), &mut warnings).unwrap();
        assert_eq!(found.table, "[workspace.metadata.openadapt]");
        assert_eq!(found.value.as_deref(), Some("\"no\""));
        assert!(found.off);

        // the walk stops at the home directory (which is looked at)
        std::fs::remove_file(&cargo).unwrap();
        let home = root.join("repo").join("a");
        assert_eq!(find(&deep, Some(&home), &mut warnings), None);
        let home = root.join("repo");
        assert!(find(&deep, Some(&home), &mut warnings).is_some());
        assert!(warnings.is_empty(), "{warnings:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_walk_stops_after_32_levels() {
        let root = scratch("levels");
        std::fs::write(
            root.join("pyproject.toml"),
            "[tool.openadapt]\ntelemetry = false\n",
        )
        .unwrap();
        let mut dir = root.clone();
        for n in 0..31 {
            dir = dir.join(n.to_string());
        }
        std::fs::create_dir_all(&dir).unwrap();
        let mut warnings = Vec::new();
        // 32 folders: the 31 below the root, then the root
        assert!(find(&dir, None, &mut warnings).is_some());
        let deeper = dir.join("31");
        std::fs::create_dir_all(&deeper).unwrap();
        assert_eq!(find(&deeper, None, &mut warnings), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_manifests_are_named_and_passed_over() {
        let root = scratch("unreadable");
        let sub = root.join("sub");
        std::fs::create_dir_all(sub.join("pyproject.toml")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", sub.join("Cargo.toml")).unwrap();
        std::fs::write(
            root.join("pyproject.toml"),
            "[tool.openadapt]\ntelemetry = false\n",
        )
        .unwrap();
        let mut warnings = Vec::new();
        let started = std::time::Instant::now();
        let found = find(&sub, Some(&root), &mut warnings).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(found.path, root.join("pyproject.toml"));
        assert_eq!(
            warnings,
            [
                format!(
                    "cannot read {} for a repository opt-out: it is a directory",
                    sub.join("pyproject.toml").display()
                ),
                format!(
                    "cannot read {} for a repository opt-out: it is a character device, not a regular file",
                    sub.join("Cargo.toml").display()
                ),
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! Scanning files, image config entries and free text.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::sync::LazyLock;

use crate::detect::{self, Mode, State};
use crate::{Allowlist, Finding, Rule, assign, is_dotenv_file};

/// How much of a file decides whether it is binary: a NUL byte here means
/// binary, as `git` and `grep` decide.
pub const BINARY_SNIFF_LEN: usize = 8 * 1024;
/// The buffer [`Scanner::scan_reader`] starts with: small files, the
/// common case, cost no more than this (it holds the binary sniff).
const FIRST_CHUNK: usize = 16 * 1024;
/// The buffer grows to this while reads keep filling it.
const READ_CHUNK: usize = 256 * 1024;
/// A line longer than this is cut when streaming, so memory stays bounded.
const MAX_CARRY: usize = 1024 * 1024;
/// Bytes kept across a cut inside a line, so a key that straddles the cut
/// is still seen whole.
const CUT_OVERLAP: usize = 1024;

/// Applies every rule to files and image metadata, then drops what the
/// allowlist accepts.
///
/// The rules are compiled once per process; a `Scanner` is cheap to build
/// and can be shared between threads.
#[derive(Clone, Debug)]
pub struct Scanner {
    allowlist: Allowlist,
    skip_defaults: bool,
}

/// Built once: [`Allowlist::defaults`].
static DEFAULTS: LazyLock<Allowlist> = LazyLock::new(Allowlist::defaults);

impl Scanner {
    /// A scanner that reports every finding the allowlist does not accept,
    /// except in the test files of installed dependencies, in distribution
    /// libraries, and in build outputs that must hold a generated key; see
    /// [`Allowlist::defaults`].
    #[must_use]
    pub fn new(allowlist: Allowlist) -> Self {
        Scanner {
            allowlist,
            skip_defaults: true,
        }
    }

    /// Like [`Scanner::new`] without the default skips: reports findings in
    /// dependencies' test files and build artifacts too.
    #[must_use]
    pub fn strict(allowlist: Allowlist) -> Self {
        Scanner {
            allowlist,
            skip_defaults: false,
        }
    }

    /// Scans a file's content; `path` is the path shown to the user (the
    /// in-image path). Findings are ordered by line.
    #[must_use]
    pub fn scan_file(&self, path: &str, content: &[u8]) -> Vec<Finding> {
        let mut found = Found::new(path);
        let mut state = State::default();
        let mode = sniff(content);
        detect::scan_chunk(content, mode, &mut state, &mut found.sink());
        detect::finish(&state, &mut found.sink());
        self.finish(found)
    }

    /// Like [`Scanner::scan_file`], reading the content in chunks so big
    /// files need not be held in memory.
    ///
    /// # Errors
    ///
    /// Any error from `reader`.
    pub fn scan_reader(&self, path: &str, mut reader: impl Read) -> io::Result<Vec<Finding>> {
        let mut found = Found::new(path);
        let mut state = State::default();
        let mut buf = vec![0; FIRST_CHUNK];
        let mut len = 0;
        let mut mode = None;
        loop {
            let eof = fill(&mut reader, &mut buf, &mut len)?;
            let full = len == buf.len();
            let mode = *mode.get_or_insert_with(|| sniff(&buf[..len]));
            let (cut, keep_from) = if eof {
                (len, len)
            } else if let Some(newline) = memchr::memrchr(b'\n', &buf[..len]) {
                (newline + 1, newline + 1)
            } else if len >= MAX_CARRY {
                (len, len - CUT_OVERLAP)
            } else {
                // A long line: make room for more of it.
                buf.resize(buf.len() * 2, 0);
                continue;
            };
            detect::scan_chunk(&buf[..cut], mode, &mut state, &mut found.sink());
            buf.copy_within(keep_from..len, 0);
            len -= keep_from;
            if full && buf.len() < READ_CHUNK {
                buf.resize(buf.len() * 2, 0);
            }
            if eof {
                break;
            }
        }
        detect::finish(&state, &mut found.sink());
        Ok(self.finish(found))
    }

    /// Scans an image config's `Env` (`NAME=value` entries). Findings carry
    /// `context` (e.g. `config.Env`) as path and the 1-based entry index as
    /// line.
    #[must_use]
    pub fn scan_env(&self, context: &str, env: &[String]) -> Vec<Finding> {
        let mut found = Found::new(context);
        for (index, entry) in env.iter().enumerate() {
            let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
            found.pair(index + 1, name, value);
        }
        self.finish(found)
    }

    /// Scans labels (or annotations) as name/value pairs, in key order;
    /// the line is the 1-based position in that order.
    #[must_use]
    pub fn scan_labels(&self, context: &str, labels: &BTreeMap<String, String>) -> Vec<Finding> {
        let mut found = Found::new(context);
        for (index, (name, value)) in labels.iter().enumerate() {
            found.pair(index + 1, name, value);
        }
        self.finish(found)
    }

    /// Scans free text such as a history entry's `created_by`; lines are
    /// the text's own.
    #[must_use]
    pub fn scan_text(&self, context: &str, text: &str) -> Vec<Finding> {
        let mut found = Found::new(context);
        detect::scan_text(text.as_bytes(), &mut found.sink());
        self.finish(found)
    }

    fn permits(&self, finding: &Finding) -> bool {
        self.allowlist.permits(finding) || (self.skip_defaults && DEFAULTS.permits(finding))
    }

    fn finish(&self, found: Found<'_>) -> Vec<Finding> {
        found
            .hits
            .into_iter()
            .map(|(line, rule)| Finding {
                path: found.path.to_owned(),
                line,
                rule,
            })
            .filter(|finding| !self.permits(finding))
            .collect()
    }
}

/// Reads until `buf` is full or the reader ends; returns whether it ended.
fn fill(reader: &mut impl Read, buf: &mut [u8], len: &mut usize) -> io::Result<bool> {
    while *len < buf.len() {
        match reader.read(&mut buf[*len..]) {
            Ok(0) => return Ok(true),
            Ok(read) => *len += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Text or binary, from the first [`BINARY_SNIFF_LEN`] bytes.
fn sniff(content: &[u8]) -> Mode {
    let head = &content[..content.len().min(BINARY_SNIFF_LEN)];
    if memchr::memchr(0, head).is_some() {
        Mode::Binary
    } else {
        Mode::Text
    }
}

/// Hits gathered for one path, deduplicated and ordered.
struct Found<'a> {
    path: &'a str,
    hits: BTreeSet<(Option<usize>, Rule)>,
}

impl<'a> Found<'a> {
    fn new(path: &'a str) -> Self {
        let mut hits = BTreeSet::new();
        if is_dotenv_file(path) {
            hits.insert((None, Rule::DotEnvFile));
        }
        Found { path, hits }
    }

    fn sink(&mut self) -> impl FnMut(Option<usize>, Rule) + '_ {
        |line, rule| {
            self.hits.insert((line, rule));
        }
    }

    /// A name/value pair at `line`: the value's own shapes, then the pair.
    fn pair(&mut self, line: usize, name: &str, value: &str) {
        let mut rules = Vec::new();
        detect::scan_text(value.as_bytes(), &mut |_, rule| rules.push(rule));
        rules.extend(assign::classify(name, value, false));
        self.hits
            .extend(rules.into_iter().map(|rule| (Some(line), rule)));
    }
}

//! Scanning files, image config entries and free text.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use crate::detect::{self, Mode, State};
use crate::{Allowlist, Finding, Rule, assign, is_dotenv_file};

/// How much of a file decides whether it is binary: a NUL byte here means
/// binary, as `git` and `grep` decide.
pub const BINARY_SNIFF_LEN: usize = 8 * 1024;
/// Bytes read at a time by [`Scanner::scan_reader`].
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
#[derive(Clone, Debug, Default)]
pub struct Scanner {
    allowlist: Allowlist,
}

impl Scanner {
    /// A scanner that reports every finding the allowlist does not accept.
    #[must_use]
    pub fn new(allowlist: Allowlist) -> Self {
        Scanner { allowlist }
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
        let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK * 2);
        let mut mode = None;
        loop {
            let filled = buf.len();
            buf.resize(filled + READ_CHUNK, 0);
            let read = loop {
                match reader.read(&mut buf[filled..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other,
                }
            };
            let read = read?;
            buf.truncate(filled + read);
            let eof = read == 0;
            if mode.is_none() && (eof || buf.len() >= BINARY_SNIFF_LEN) {
                mode = Some(sniff(&buf));
            }
            let Some(mode) = mode else { continue };
            let (cut, keep_from) = if eof {
                (buf.len(), buf.len())
            } else if let Some(newline) = memchr::memrchr(b'\n', &buf) {
                (newline + 1, newline + 1)
            } else if buf.len() >= MAX_CARRY {
                (buf.len(), buf.len() - CUT_OVERLAP)
            } else {
                continue;
            };
            detect::scan_chunk(&buf[..cut], mode, &mut state, &mut found.sink());
            buf.drain(..keep_from);
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

    fn finish(&self, found: Found<'_>) -> Vec<Finding> {
        found
            .hits
            .into_iter()
            .map(|(line, rule)| Finding {
                path: found.path.to_owned(),
                line,
                rule,
            })
            .filter(|finding| !self.allowlist.permits(finding))
            .collect()
    }
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

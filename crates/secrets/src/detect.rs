//! The scanning engine: one Aho-Corasick pass over the bytes finds every
//! anchor (a key prefix, a PEM header, `://`, a secret-looking name word),
//! and only the bytes around each anchor are examined further.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::Rule;
use crate::assign;
use crate::shapes::{self, PemHeader};

/// How a buffer is scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every rule, with line numbers.
    Text,
    /// Binary content: only prefixed key shapes and private keys, no lines.
    Binary,
}

#[derive(Clone, Copy)]
enum Anchor {
    Pem,
    Aws,
    Sk,
    Google,
    Github,
    GcpType,
    GcpPrivateKey,
    Url,
    Name,
}

/// Anchors found by their exact bytes. `"private_key"` comes before the
/// name words so that leftmost-first matching sees the service-account
/// field (it is then also treated as a name).
const SHAPE_ANCHORS: [(&str, Anchor); 14] = [
    ("-----BEGIN", Anchor::Pem),
    ("AKIA", Anchor::Aws),
    ("ASIA", Anchor::Aws),
    ("sk-", Anchor::Sk),
    ("AIza", Anchor::Google),
    ("ghp_", Anchor::Github),
    ("gho_", Anchor::Github),
    ("ghs_", Anchor::Github),
    ("ghu_", Anchor::Github),
    ("ghr_", Anchor::Github),
    ("github_pat_", Anchor::Github),
    ("service_account", Anchor::GcpType),
    ("\"private_key\"", Anchor::GcpPrivateKey),
    ("://", Anchor::Url),
];

/// Anchors that make sense in binary content: the first ones.
const BINARY_ANCHORS: usize = 11;

/// Name words, matched as `word`, `WORD` and `Word` (snake case, screaming
/// snake case, camel case). Matching these three spellings instead of
/// ignoring case keeps the automaton's SIMD prefilter on, which makes the
/// whole scan several times faster; a name spelled `SeCrEt` is not seen.
const NAME_WORDS: [&str; 7] = [
    "secret",
    "password",
    "passwd",
    "token",
    "key",
    "credential",
    "creds",
];

/// Every anchor pattern with what it anchors.
static ANCHORS: LazyLock<Vec<(String, Anchor)>> = LazyLock::new(|| {
    let mut anchors: Vec<(String, Anchor)> = SHAPE_ANCHORS
        .iter()
        .map(|&(pattern, anchor)| (pattern.to_owned(), anchor))
        .collect();
    for word in NAME_WORDS {
        let mut capitalized = word.to_owned();
        capitalized[..1].make_ascii_uppercase();
        for spelling in [word.to_owned(), word.to_ascii_uppercase(), capitalized] {
            anchors.push((spelling, Anchor::Name));
        }
    }
    for spelling in ["database_url", "DATABASE_URL", "databaseUrl"] {
        anchors.push((spelling.to_owned(), Anchor::Name));
    }
    anchors
});

fn build(anchors: &[(String, Anchor)]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(anchors.iter().map(|(pattern, _)| pattern))
        .expect("the anchor patterns are valid")
}

static TEXT: LazyLock<AhoCorasick> = LazyLock::new(|| build(&ANCHORS));
static BINARY: LazyLock<AhoCorasick> = LazyLock::new(|| build(&ANCHORS[..BINARY_ANCHORS]));

/// State carried from one chunk of a file to the next.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Newlines seen in earlier chunks.
    lines_before: usize,
    gcp_type_line: Option<usize>,
    gcp_private_key: bool,
    /// A PEM header ended the previous chunk.
    pending_pem: Option<PendingPem>,
}

/// A private-key header whose key material is in the next chunk.
#[derive(Debug)]
struct PendingPem {
    line: Option<usize>,
}

/// Where one byte offset sits: its line number and the line's bounds.
struct Lines<'a> {
    buf: &'a [u8],
    /// Line number (0-based within the chunk) of `start..end`.
    number: usize,
    start: usize,
    end: usize,
}

impl<'a> Lines<'a> {
    fn new(buf: &'a [u8]) -> Self {
        let end = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
        Lines {
            buf,
            number: 0,
            start: 0,
            end,
        }
    }

    /// Moves to the line holding `at` (never backwards past the current line).
    fn seek(&mut self, at: usize) {
        if at <= self.end {
            return;
        }
        self.number += memchr::memchr_iter(b'\n', &self.buf[self.end..at]).count();
        self.start = memchr::memrchr(b'\n', &self.buf[..at]).map_or(0, |i| i + 1);
        self.end = memchr::memchr(b'\n', &self.buf[at..]).map_or(self.buf.len(), |i| at + i);
    }
}

/// Scans one chunk of whole lines, calling `sink(line, rule)` for each hit
/// (`line` is 1-based, `None` in binary mode). Chunks of a file must be fed
/// in order with the same `state`, then [`finish`] called.
pub(crate) fn scan_chunk(
    buf: &[u8],
    mode: Mode,
    state: &mut State,
    sink: &mut dyn FnMut(Option<usize>, Rule),
) {
    let lines_before = state.lines_before;
    let line_of =
        |lines: &Lines<'_>| (mode == Mode::Text).then_some(lines_before + lines.number + 1);
    if let Some(PendingPem { line }) = state.pending_pem.take() {
        let material = buf.trim_ascii_start();
        if shapes::pem_material(material) {
            sink(line, Rule::PrivateKey);
        }
    }
    let automaton = match mode {
        Mode::Text => &*TEXT,
        Mode::Binary => &*BINARY,
    };
    let mut lines = Lines::new(buf);
    let mut names_done_until = 0;
    for hit in automaton.find_iter(buf) {
        let at = hit.start();
        if mode == Mode::Text {
            lines.seek(at);
        }
        let rule = match ANCHORS[hit.pattern().as_usize()].1 {
            Anchor::Pem => match shapes::pem_header(buf, at) {
                PemHeader::WithKey => Some(Rule::PrivateKey),
                PemHeader::AtEnd => {
                    state.pending_pem = Some(PendingPem {
                        line: line_of(&lines),
                    });
                    None
                }
                PemHeader::No => None,
            },
            Anchor::Aws => shapes::aws_access_key_id(buf, at).then_some(Rule::AwsAccessKeyId),
            Anchor::Sk => shapes::sk_key(buf, at),
            Anchor::Google => shapes::google_api_key(buf, at).then_some(Rule::GoogleApiKey),
            Anchor::Github => shapes::github_token(buf, at).then_some(Rule::GithubToken),
            Anchor::Url => shapes::url_credentials(buf, at).then_some(Rule::UrlCredentials),
            Anchor::GcpType => {
                if state.gcp_type_line.is_none() && shapes::gcp_type(buf, at) {
                    state.gcp_type_line = Some(lines_before + lines.number + 1);
                }
                None
            }
            Anchor::GcpPrivateKey | Anchor::Name => {
                let keyword = if buf[at] == b'"' { at + 1 } else { at };
                state.gcp_private_key |= keyword != at;
                if keyword < names_done_until {
                    None
                } else {
                    match assign::parse(buf, lines.start, lines.end, keyword) {
                        Ok(assignment) => {
                            names_done_until = assignment.end;
                            assign::classify(assignment.name, assignment.value, assignment.raw)
                        }
                        Err(name_end) => {
                            names_done_until = name_end;
                            None
                        }
                    }
                }
            }
        };
        if let Some(rule) = rule {
            sink(line_of(&lines), rule);
        }
    }
    if mode == Mode::Text {
        lines.seek(buf.len());
        state.lines_before += lines.number;
    }
}

/// Reports what needed the whole file: a service-account key.
pub(crate) fn finish(state: &State, sink: &mut dyn FnMut(Option<usize>, Rule)) {
    if let (Some(line), true) = (state.gcp_type_line, state.gcp_private_key) {
        sink(Some(line), Rule::GcpServiceAccount);
    }
}

/// Scans a whole text buffer.
pub(crate) fn scan_text(buf: &[u8], sink: &mut dyn FnMut(Option<usize>, Rule)) {
    let mut state = State::default();
    scan_chunk(buf, Mode::Text, &mut state, sink);
    finish(&state, sink);
}

//! Secret detection for hoist: the rules that keep secrets out of images
//! (SPEC IMG-5) and out of `ConfigMap`s (CFG-1, CFG-3).
//!
//! - [`Scanner`] scans files, an image config's `Env` and labels, and
//!   history text, and reports [`Finding`]s: path, line and [`Rule`], never
//!   the value (not even in `Debug`). An [`Allowlist`] of path globs and
//!   rules lets reviewed false positives through.
//! - [`name_is_sensitive`] and [`value_looks_secret`] classify configuration
//!   variables; [`is_dotenv_file`] and [`shannon_entropy`] are the building
//!   blocks, public for callers that want the same judgement.
//!
//! ```no_run
//! use hoist_secrets::{Allowlist, Scanner};
//!
//! let mut allow = Allowlist::new();
//! allow.allow("/app/tests/**", Some(hoist_secrets::Rule::PrivateKey))?;
//! let scanner = Scanner::new(allow);
//! let content = std::fs::read("rootfs/app/settings.py")?;
//! for finding in scanner.scan_file("/app/settings.py", &content) {
//!     eprintln!("{finding}"); // "/app/settings.py:12: openai-key (OpenAI API key)"
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rules
//!
//! | id | matches |
//! |----|---------|
//! | `dotenv-file` | a file named `.env`, `.env.*` or `*.env`, except `*.example`, `*.sample`, `*.template`, `*.dist` |
//! | `private-key` | `-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----` followed by a line of 40+ base64 characters or `Proc-Type:` (also after a literal `\n`, as in JSON) |
//! | `aws-access-key-id` | `AKIA`/`ASIA` + 16 of `[A-Z0-9]`, standing alone; ids ending in `EXAMPLE` (AWS's documentation) are skipped |
//! | `aws-secret-key` | 40 base64 characters assigned to a name with the words `AWS` and `SECRET` |
//! | `gcp-service-account` | JSON with a `type` of `service_account` and a `private_key` field |
//! | `openai-key` | `sk-` (`sk-proj-`, `sk-svcacct-`, ...) + 32 or more `[A-Za-z0-9_-]` mixing upper case, lower case and digits |
//! | `anthropic-key` | `sk-ant-` + 32 or more such characters |
//! | `google-api-key` | `AIza` + exactly 35 `[A-Za-z0-9_-]` |
//! | `github-token` | `ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_` + 36 or more alphanumerics; `github_pat_` + 40 or more `[A-Za-z0-9_]` |
//! | `jwt-secret` | a literal of 8+ characters assigned to a `JWT` + `SECRET` name or a name ending in `SECRET_KEY` |
//! | `high-entropy-assignment` | a high-entropy literal assigned to a sensitive name (see below) |
//! | `url-credentials` | `scheme://user:password@host` with a password that is not a documentation example or the user name again; [`value_looks_secret`] counts any password that is not a `$VAR` reference |
//!
//! Key prefixes must stand alone (no letter or digit right before them).
//!
//! ## Assignments
//!
//! Around every name word (`secret`, `password`, `passwd`, `token`, `key`,
//! `credential`, `creds`, `database_url`, each spelled lower case, upper case
//! or capitalized as in camelCase; a name spelled `SeCrEt` is not seen, the
//! price of keeping the automaton's SIMD prefilter) the scanner reads the
//! whole name and looks for `NAME=value`, `NAME: value`, `"name": "value"`,
//! `name = "value"`, `name := "value"` or `"name" => "value"`. Quoted
//! values are always taken. Unquoted values are taken only where a literal
//! is the norm: `NAME=value` with no spaces where the name starts a word
//! (`.env`, shell, command lines; not `a.b=c` or `;x=y` in minified code),
//! or a whole-line `NAME = value` / `name: value` (INI, YAML, optionally
//! after `export`, `ENV`, `ARG`, `set` or `- `). Unquoted values stop at
//! whitespace and `,;)}]&`. An unquoted value that is code is skipped: a
//! call, an index, an identifier ending a `;` statement, a dotted path of
//! identifiers (`os.environ`, `self._lib.NID_aes_256_cbc`), an identifier
//! without digits or in snake case, or the name itself passed along
//! (`"token": token`).
//! Doctest lines (`>>>`, `...`) are documentation and skipped.
//!
//! A name is sensitive by [`name_is_sensitive`]. The value must then be
//! random-looking: at least 24 characters, no whitespace, quotes, `:`,
//! `,`, `;` or brackets, letters and digits both present, Shannon entropy
//! at least 3.0 bits per character; a hex-only value needs 32 characters (a
//! 128-bit secret). Never counted: UUIDs, words joined by separators whose
//! pieces are each all lower case, all upper case or all digits
//! (`__closure__context__9843`), and base64 that decodes to text with
//! spaces or to a DER public key or certificate.
//!
//! A value with a shape of its own (`sk-`, `AKIA`, `://`, ...) is left to
//! that shape's rule, so one line gives one finding.
//!
//! ## Placeholders
//!
//! Placeholders are not secrets and never produce a finding: empty values,
//! references (`${X}`, `$X`, `{{ x }}`, `<x>`, `%(x)s`), runs of one
//! character (`xxxx`), and fillers such as `changeme`, `your-key-here`,
//! `placeholder`, `example`, `dummy`, `redacted`, `secret`, `password`.
//! Documentation passwords in URLs (`user:password@`, `scott:tiger@`) are
//! placeholders too. A template with placeholders is shipped on purpose; a
//! real `.env` that holds them is still reported by its name.
//!
//! ## Entropy thresholds and their trade-off
//!
//! Shannon entropy of random base62 text approaches `log2(len)` for short
//! strings (24 random characters: about 4.2 bits per character) and 5.95
//! for long ones; hex tops out at 4.0; identifiers reach 3.5 to 4.3 too, so
//! entropy alone separates little at these lengths and the character-class
//! rules above do most of the work. Next to a sensitive name we accept 3.0
//! bits, because the name already says "secret" and a miss leaks a
//! credential. The 24-character minimum is the main trade-off: it drops the
//! 16- to 22-character sample tokens of OAuth documentation (RFC 6749's
//! examples appear in `oauthlib` docstrings) at the price of missing short
//! hand-made passwords in code; those are still caught in `.env` files, by
//! the JWT rule, and by name in configuration. On its own
//! ([`value_looks_secret`]) a value needs 32+ characters of
//! `[A-Za-z0-9+/=_-]` mixing upper case, lower case and digits and 4.0 bits
//! per character; hex (digests, commit ids), UUIDs and short ids (a Next.js
//! build id is 21 characters) are not judged by entropy at all, since a
//! false positive there refuses an ordinary `ConfigMap` value.
//!
//! # Skips and limits
//!
//! - A file with a NUL byte in its first 8 KiB is binary: only the prefixed
//!   key shapes and private-key blocks are looked for (a key compiled into a
//!   binary is still a key), without line numbers; names and entropy mean
//!   nothing in machine code. Archives and compressed files (`.whl`,
//!   `.tar.gz`, `.jar`) are not unpacked, and UTF-16 text counts as binary.
//! - Lines are not capped as a whole: minified bundles put megabytes on one
//!   line, and Next.js inlines `NEXT_PUBLIC_*` values there. Instead work per
//!   anchor is bounded: names are read up to 128 bytes, values up to 1024,
//!   and the rest of the line costs only the single automaton pass.
//! - [`Scanner::scan_reader`] reads 16 KiB at a time, growing to 256 KiB
//!   while reads fill it, and cuts at line ends; a line longer than 1 MiB is
//!   cut with a 1 KiB overlap.
//! - [`Scanner::new`] lets through findings in the test files of installed
//!   dependencies ([`DEPENDENCY_TEST_GLOBS`]: public fixtures such as
//!   `ecdsa`'s test keys), in distribution libraries
//!   ([`SYSTEM_LIBRARY_GLOBS`]: the self-test keys in `libgnutls`), and generated
//!   high-entropy keys in Next.js's prerender manifest
//!   ([`BUILD_ARTIFACT_GLOBS`]); [`Scanner::strict`] reports those too.
//!   Debian's `ssl-cert` snakeoil key (`/etc/ssl/private`, pulled in by
//!   `postgresql-common`) is generated per install and is reported.
//!
//! # Speed
//!
//! One Aho-Corasick pass with exact-case anchors (SIMD prefilter) finds
//! candidate positions; everything else is bounded work around each one.
//! Measured with the `scan` example (release build, files read into memory
//! first, 2 cores shared with other builds, so the spread is wide): 0.9 to
//! 1.4 GB/s over a `pip install --target` tree of `fastapi`, `sqlalchemy`,
//! `sqlmodel`, `psycopg`, `openai`, `python-jose` and friends (7049 files,
//! 112 MB), and 0.5 to 1 GB/s over an `npm install` of `next`, `react` and
//! `openai` (11686 files, 329 MB); `--reader` (through
//! [`Scanner::scan_reader`]) is 10 to 30 % slower.
//!
//! ```text
//! cargo run -p hoist-secrets --example scan --release -- DIR
//! ```

#![deny(missing_docs)]

mod allowlist;
mod assign;
mod detect;
mod finding;
mod names;
mod rule;
mod scanner;
mod shapes;
mod value;

pub use allowlist::{Allowlist, BUILD_ARTIFACT_GLOBS, DEPENDENCY_TEST_GLOBS, SYSTEM_LIBRARY_GLOBS};
pub use finding::Finding;
pub use names::{is_dotenv_file, name_is_sensitive};
pub use rule::Rule;
pub use scanner::{BINARY_SNIFF_LEN, Scanner};
pub use value::{
    ASSIGNMENT_MIN_ENTROPY, ASSIGNMENT_MIN_HEX_LEN, ASSIGNMENT_MIN_LEN, VALUE_MIN_ENTROPY,
    VALUE_MIN_LEN, shannon_entropy, value_looks_secret,
};

/// Errors from building scanners and allowlists.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An allowlist rule id that no rule has.
    #[error("unknown secret rule `{0}`; expected one of: {ids}", ids = rule_ids())]
    UnknownRule(String),
    /// An allowlist path glob that does not parse.
    #[error("invalid allowlist path glob `{glob}`: {reason}")]
    BadGlob {
        /// The glob as given.
        glob: String,
        /// Why it does not parse.
        reason: String,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn rule_ids() -> String {
    Rule::ALL.map(Rule::id).join(", ")
}

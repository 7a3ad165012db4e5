//! Checks for secrets recognised by their own shape, anchored at a prefix the
//! automaton found: key prefixes, PEM headers, URLs with passwords.

use crate::Rule;
use crate::value::is_placeholder;

/// Characters of a base64url token body (`[A-Za-z0-9_-]`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Length of the run of bytes from `start` satisfying `pred`, up to `max`.
fn run_len(buf: &[u8], start: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    buf.get(start..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|&&b| pred(b))
        .count()
}

fn before(buf: &[u8], at: usize) -> Option<u8> {
    at.checked_sub(1).map(|i| buf[i])
}

fn mixed_case_and_digits(token: &[u8]) -> bool {
    token.iter().any(u8::is_ascii_uppercase)
        && token.iter().any(u8::is_ascii_lowercase)
        && token.iter().any(u8::is_ascii_digit)
}

/// Minimum body length of an `sk-` / `sk-ant-` key after its prefix.
pub(crate) const SK_MIN_BODY: usize = 32;

/// `AKIA`/`ASIA` + 16 of `[A-Z0-9]`, standing alone. AWS's documentation
/// example ids (ending in `EXAMPLE`) are placeholders.
pub(crate) fn aws_access_key_id(buf: &[u8], at: usize) -> bool {
    let rest = &buf[at..];
    if !(rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA")) {
        return false;
    }
    if before(buf, at).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let body = run_len(buf, at + 4, 17, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit()
    });
    let after = buf.get(at + 4 + body).copied();
    body == 16
        && !after.is_some_and(|b| b.is_ascii_alphanumeric())
        && !buf[at + 4..at + 20].ends_with(b"EXAMPLE")
}

/// `sk-` keys: Anthropic (`sk-ant-...`) or `OpenAI` (`sk-...`, `sk-proj-...`,
/// `sk-svcacct-...`): at least [`SK_MIN_BODY`] base64url characters that mix
/// upper case, lower case and digits, so CSS classes and prose do not match.
pub(crate) fn sk_key(buf: &[u8], at: usize) -> Option<Rule> {
    if !buf[at..].starts_with(b"sk-") || before(buf, at).is_some_and(is_token_byte) {
        return None;
    }
    let (rule, body_start) = if buf[at + 3..].starts_with(b"ant-") {
        (Rule::AnthropicKey, at + 7)
    } else {
        (Rule::OpenAiKey, at + 3)
    };
    let body_len = run_len(buf, body_start, 512, is_token_byte);
    let body = &buf[body_start..body_start + body_len];
    (body_len >= SK_MIN_BODY && mixed_case_and_digits(body)).then_some(rule)
}

/// `AIza` + exactly 35 base64url characters.
pub(crate) fn google_api_key(buf: &[u8], at: usize) -> bool {
    buf[at..].starts_with(b"AIza")
        && !before(buf, at).is_some_and(is_token_byte)
        && run_len(buf, at + 4, 36, is_token_byte) == 35
}

/// GitHub tokens: `ghp_`/`gho_`/`ghs_`/`ghu_`/`ghr_` + at least 36
/// alphanumerics, or `github_pat_` + at least 40 of `[A-Za-z0-9_]`.
pub(crate) fn github_token(buf: &[u8], at: usize) -> bool {
    let rest = &buf[at..];
    if before(buf, at).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return false;
    }
    if rest.starts_with(b"github_pat_") {
        return run_len(buf, at + 11, 256, |b| {
            b.is_ascii_alphanumeric() || b == b'_'
        }) >= 40;
    }
    let prefix_ok = rest.len() >= 4
        && rest.starts_with(b"gh")
        && matches!(rest[2], b'p' | b'o' | b's' | b'u' | b'r')
        && rest[3] == b'_';
    prefix_ok && run_len(buf, at + 4, 256, |b| b.is_ascii_alphanumeric()) >= 36
}

/// What follows a PEM private-key header.
pub(crate) enum PemHeader {
    /// Not a private-key header.
    No,
    /// A header followed by key material.
    WithKey,
    /// A header at the end of the buffer: decided by what comes next.
    AtEnd,
}

/// `-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----` followed by key material:
/// a line of at least 40 base64 characters or an encrypted-PEM
/// `Proc-Type:` header, possibly after a literal `\n` escape (keys inside
/// JSON strings). Parsers quote the bare header as a constant (Python's
/// `cryptography`, `paramiko`); requiring the material keeps those out.
pub(crate) fn pem_header(buf: &[u8], at: usize) -> PemHeader {
    const BEGIN: &[u8] = b"-----BEGIN ";
    if !buf[at..].starts_with(BEGIN) {
        return PemHeader::No;
    }
    let label_start = at + BEGIN.len();
    let label_len = run_len(buf, label_start, 40, |b| {
        b.is_ascii_uppercase() || b == b' '
    });
    let label = &buf[label_start..label_start + label_len];
    let is_private = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    let dashes = label_start + label_len;
    if !is_private || !buf[dashes..].starts_with(b"-----") {
        return PemHeader::No;
    }
    let material = skip_line_break(buf, dashes + 5);
    if material >= buf.len() {
        return PemHeader::AtEnd;
    }
    if pem_material(&buf[material..]) {
        PemHeader::WithKey
    } else {
        PemHeader::No
    }
}

/// Skips whitespace and literal `\n`/`\r` escapes.
fn skip_line_break(buf: &[u8], mut at: usize) -> usize {
    while at < buf.len() {
        match buf[at] {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'\\' if matches!(buf.get(at + 1), Some(b'n' | b'r')) => at += 2,
            _ => break,
        }
    }
    at
}

/// Whether `rest` starts with private-key material.
pub(crate) fn pem_material(rest: &[u8]) -> bool {
    rest.starts_with(b"Proc-Type:")
        || run_len(rest, 0, 40, |b| {
            b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
        }) >= 40
}

/// Passwords that documentation uses in example URLs.
const EXAMPLE_PASSWORDS: [&str; 6] = ["pass", "pwd", "pw", "tiger", "pass123", "guest"];

/// `scheme://user:password@host` with `at` on the `://`, as found in files:
/// a password (see [`url_password`]) that is not a placeholder, a
/// documentation example (`user:password`, `scott:tiger`, any password of
/// the `scott` user of database documentation) or the user name again
/// (`guest:guest`, `postgres:postgres`: well-known defaults, not secrets),
/// on a host that is not reserved for documentation (RFC 2606:
/// `example.com`, `example.org`, `example.net`, `*.example`, `*.invalid`).
pub(crate) fn url_credentials(buf: &[u8], at: usize) -> bool {
    let Some((user, password)) = url_password(buf, at) else {
        return false;
    };
    let Ok(password) = std::str::from_utf8(&password) else {
        return false;
    };
    let lower = password.to_ascii_lowercase();
    !is_documentation_host(&url_host(buf, at))
        && user != password.as_bytes()
        && user != b"scott"
        && !is_placeholder(password)
        && !EXAMPLE_PASSWORDS.contains(&lower.as_str())
}

/// Whether a configuration value holds a URL with a password, whatever the
/// password: any credentials belong in a `Secret`, even default ones. Only
/// a reference to another variable (`$PW`, `${PW}`) does not count.
pub(crate) fn value_has_url_password(value: &[u8]) -> bool {
    memchr::memmem::find_iter(value, b"://")
        .any(|at| url_password(value, at).is_some_and(|(_, password)| !password.starts_with(b"$")))
}

/// The host of the URL whose `://` is at `at`, lower-cased, without user
/// info and port.
fn url_host(buf: &[u8], at: usize) -> String {
    let start = at + 3;
    let authority_len = run_len(buf, start, 256, is_authority_byte);
    let authority = &buf[start..start + authority_len];
    let host = memchr::memrchr(b'@', authority).map_or(authority, |i| &authority[i + 1..]);
    let host = memchr::memchr(b':', host).map_or(host, |i| &host[..i]);
    String::from_utf8_lossy(host).to_ascii_lowercase()
}

fn is_documentation_host(host: &str) -> bool {
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|domain| {
            host == *domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|sub| sub.ends_with('.'))
        })
        || host.ends_with(".example")
        || host.ends_with(".invalid")
}

fn is_authority_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"/?#\"'`<>()[]{}\\,;".contains(&b)
}

/// The user and the percent-decoded, non-empty password of the URL whose
/// `://` is at `at`; the scheme must have two or more characters and the
/// host must not be empty.
fn url_password(buf: &[u8], at: usize) -> Option<(&[u8], Vec<u8>)> {
    let scheme_len = buf[..at]
        .iter()
        .rev()
        .take(32)
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        .count();
    if scheme_len < 2 || !buf[at - scheme_len].is_ascii_alphabetic() {
        return None;
    }
    let start = at + 3;
    let authority_len = run_len(buf, start, 256, is_authority_byte);
    let authority = &buf[start..start + authority_len];
    let at_sign = memchr::memrchr(b'@', authority)?;
    let userinfo = &authority[..at_sign];
    let colon = memchr::memchr(b':', userinfo)?;
    let password = percent_decode(&userinfo[colon + 1..]);
    (at_sign + 1 < authority.len() && !password.is_empty()).then(|| (&userinfo[..colon], password))
}

/// Decodes `%XX` escapes; malformed ones stay as they are.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                text.get(i + 1).and_then(|&b| hex(b)),
                text.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// `"type": "service_account"` with `at` on `service_account`.
pub(crate) fn gcp_type(buf: &[u8], at: usize) -> bool {
    if !buf[at..].starts_with(b"service_account\"") || before(buf, at) != Some(b'"') {
        return false;
    }
    let head = &buf[..at - 1];
    let head = head.trim_ascii_end();
    let Some(head) = head.strip_suffix(b":") else {
        return false;
    };
    head.trim_ascii_end().ends_with(b"\"type\"")
}

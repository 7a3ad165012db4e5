//! Classification by value: entropy, placeholders and token shapes.

use crate::Rule;
use crate::{detect, shapes};

/// Minimum length of a literal assigned to a secret-looking name before its
/// entropy is considered.
pub const ASSIGNMENT_MIN_LEN: usize = 24;
/// Minimum Shannon entropy (bits per character) of such a literal.
pub const ASSIGNMENT_MIN_ENTROPY: f64 = 3.0;
/// Minimum length of a hex-only literal assigned to a secret-looking name.
pub const ASSIGNMENT_MIN_HEX_LEN: usize = 32;
/// Minimum length of a value that is judged secret by its shape alone.
pub const VALUE_MIN_LEN: usize = 32;
/// Minimum Shannon entropy of a value that is judged secret by its shape alone.
pub const VALUE_MIN_ENTROPY: f64 = 4.0;
/// Values longer than this are not judged by entropy (they are documents,
/// certificates or bundles, and the key-shape rules still apply to them).
pub(crate) const MAX_TOKEN_LEN: usize = 1024;

/// Shannon entropy of `s` in bits per character, over its bytes.
///
/// `""` has entropy 0; a string of `n` distinct bytes has `log2(n)`, so
/// entropy is bounded by `log2(len)` and by `log2(alphabet)`: 4 bits for
/// hex, about 5.95 for base62.
#[must_use]
pub fn shannon_entropy(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0_u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = f64::from(count) / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether a value, seen on its own without a name, looks like a secret; and
/// if so by which rule.
///
/// In order: a private-key block ([`Rule::PrivateKey`]), a known key shape
/// (AWS, `OpenAI`, Anthropic, Google, GitHub), a service-account JSON, a URL
/// with any password ([`Rule::UrlCredentials`]; unlike in files, default and
/// example passwords count here, since a configuration value is live; only
/// a `$VAR` reference does not), and finally a random-looking
/// token ([`Rule::HighEntropyAssignment`]): at least [`VALUE_MIN_LEN`]
/// characters of `[A-Za-z0-9+/=_-]` with upper case, lower case and digits
/// and at least [`VALUE_MIN_ENTROPY`] bits per character, not hex-only, not
/// a UUID, and not base64 of text, a public key or a certificate. The value-only threshold is deliberately stricter than the one for
/// secret-looking names: here a false positive turns an ordinary setting
/// (a build id, a digest, a base64 blob) into a refused `ConfigMap`.
#[must_use]
pub fn value_looks_secret(value: &str) -> Option<Rule> {
    let mut found: Option<Rule> = None;
    detect::scan_text(value.as_bytes(), &mut |_, rule| {
        found = Some(found.map_or(rule, |seen| seen.min(rule)));
    });
    if shapes::value_has_url_password(value.as_bytes()) {
        found = Some(found.map_or(Rule::UrlCredentials, |seen| seen.min(Rule::UrlCredentials)));
    }
    if found.is_some() {
        return found;
    }
    let token = value.trim();
    (token.len() >= VALUE_MIN_LEN
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b))
        && token.bytes().any(|b| b.is_ascii_uppercase())
        && token.bytes().any(|b| b.is_ascii_lowercase())
        && token.bytes().any(|b| b.is_ascii_digit())
        && !is_hex(token)
        && !is_uuid(token)
        && shannon_entropy(token) >= VALUE_MIN_ENTROPY
        && !is_public_base64(token))
    .then_some(Rule::HighEntropyAssignment)
}

/// Whether a literal assigned to a secret-looking name is random enough to be
/// a secret: no whitespace, quotes or `:`; letters and digits; at least
/// [`ASSIGNMENT_MIN_LEN`] characters and [`ASSIGNMENT_MIN_ENTROPY`] bits per
/// character; hex-only literals need [`ASSIGNMENT_MIN_HEX_LEN`] characters;
/// UUIDs, words joined by separators, and base64 of text, public keys or
/// certificates never count.
pub(crate) fn assignment_is_high_entropy(value: &str) -> bool {
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"\"'`:,;(){}[]<>\\".contains(&b));
    if !ok_chars || value.len() < ASSIGNMENT_MIN_LEN || value.len() > MAX_TOKEN_LEN {
        return false;
    }
    if !value.bytes().any(|b| b.is_ascii_digit()) || !value.bytes().any(|b| b.is_ascii_alphabetic())
    {
        return false;
    }
    if is_uuid(value) || (is_hex(value) && value.len() < ASSIGNMENT_MIN_HEX_LEN) || is_words(value)
    {
        return false;
    }
    shannon_entropy(value) >= ASSIGNMENT_MIN_ENTROPY && !is_public_base64(value)
}

/// Whether a value is words joined by `_`, `-`, `.`, `/` or `$`, each all
/// lower case, all upper case or all digits (`__closure__error__context__984382`,
/// `en-US.messages.v2`): a label or identifier. Random tokens that use these
/// separators mix cases and digits inside their pieces.
fn is_words(value: &str) -> bool {
    let mut pieces = value
        .split(['_', '-', '.', '/', '$'])
        .filter(|piece| !piece.is_empty())
        .peekable();
    let several = value.contains(['_', '-', '.', '/', '$']);
    several
        && pieces.peek().is_some()
        && pieces.all(|piece| {
            piece.bytes().all(|b| b.is_ascii_lowercase())
                || piece.bytes().all(|b| b.is_ascii_uppercase())
                || piece.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Whether a literal is a stand-in rather than a value: empty, a reference to
/// another variable (`${X}`, `$X`, `{{ x }}`, `<x>`, `%(x)s`), a run of one
/// character (`xxxx`, `****`), or a well-known filler such as `changeme`,
/// `your-api-key-here`, `placeholder`, `example`, `dummy`, `redacted`,
/// `secret`, `password`. Placeholders never count as secrets: a template
/// ships them on purpose, and a `.env` that holds them is still reported by
/// [`Rule::DotEnvFile`].
pub(crate) fn is_placeholder(value: &str) -> bool {
    const EXACT: [&str; 14] = [
        "secret", "password", "passwd", "token", "key", "apikey", "test", "none", "null", "true",
        "false", "string", "value", "todo",
    ];
    const CONTAINS: [&str; 9] = [
        "changeme",
        "placeholder",
        "example",
        "dummy",
        "redacted",
        "replaceme",
        "notset",
        "xxxxxx",
        "insert",
    ];
    let value = value.trim();
    if value.is_empty()
        || value.starts_with('$')
        || value.starts_with("{{")
        || value.starts_with("%(")
        || (value.starts_with('<') && value.ends_with('>'))
    {
        return true;
    }
    let first = value.as_bytes()[0];
    if value.bytes().all(|b| b == first) {
        return true;
    }
    let folded: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    EXACT.contains(&folded.as_str())
        || CONTAINS.iter().any(|word| folded.contains(word))
        || is_filler(&folded)
        || (folded.starts_with("your") && (folded.ends_with("here") || folded.len() <= 24))
}

/// Words that documentation strings together into stand-in secrets
/// (`supersecret`, `my-jwt-secret-key`, `not-a-real-password-123`).
const FILLER_WORDS: [&str; 40] = [
    "a", "and", "api", "app", "change", "default", "dev", "fake", "foo", "bar", "baz", "for",
    "hard", "insecure", "is", "jwt", "key", "local", "long", "me", "my", "not", "only", "pass",
    "password", "real", "random", "secret", "secrets", "some", "string", "super", "test", "the",
    "this", "to", "token", "value", "very", "your",
];

/// Whether lower-case alphanumeric `folded` is made only of filler words,
/// optionally followed by a short run of digits (`secret123`).
fn is_filler(folded: &str) -> bool {
    let words = folded.trim_end_matches(|c: char| c.is_ascii_digit());
    if words.is_empty() || folded.len() - words.len() > 4 {
        return false;
    }
    // reachable[i]: folded[..i] splits into filler words.
    let mut reachable = vec![false; words.len() + 1];
    reachable[0] = true;
    for end in 1..=words.len() {
        reachable[end] = FILLER_WORDS.iter().any(|word| {
            end >= word.len() && reachable[end - word.len()] && words[..end].ends_with(word)
        });
    }
    reachable[words.len()]
}

/// Whether a value is base64 of something that is not secret: text with
/// spaces (`bm90IG15...` is "not my real password") or a DER public key or
/// certificate (an ASN.1 SEQUENCE that opens with another SEQUENCE, as
/// `SubjectPublicKeyInfo` and `Certificate` do; private keys open with an
/// INTEGER version).
fn is_public_base64(value: &str) -> bool {
    let Some(bytes) = base64_decode(value) else {
        return false;
    };
    if let Ok(text) = std::str::from_utf8(&bytes)
        && text.contains(' ')
        && text.chars().all(|c| !c.is_control() || c.is_whitespace())
    {
        return true;
    }
    let inner = match bytes.get(1) {
        Some(&len) if len < 0x80 => 2,
        Some(&len) if (0x81..=0x84).contains(&len) => 2 + usize::from(len & 0x7f),
        _ => return false,
    };
    bytes.first() == Some(&0x30) && bytes.get(inner) == Some(&0x30)
}

/// Decodes standard or URL-safe base64, padded or not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in text.bytes() {
        let sextet = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert!(shannon_entropy("").abs() < f64::EPSILON);
        assert!(shannon_entropy("aaaa").abs() < f64::EPSILON);
        assert!((shannon_entropy("ab") - 1.0).abs() < 1e-12);
        assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-12);
    }

    /// `len` distinct characters striding through `[A-Za-z0-9]`, built at
    /// run time so no literal in the repository looks like a key.
    fn distinct(len: usize) -> String {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|i| char::from(alphabet[(i * 7) % alphabet.len()]))
            .collect()
    }

    #[test]
    fn assignment_thresholds_are_where_the_docs_say() {
        // Mixed-class characters with every byte distinct: entropy log2(len).
        let pool = distinct(32);
        assert!(assignment_is_high_entropy(&pool[..ASSIGNMENT_MIN_LEN]));
        assert!(!assignment_is_high_entropy(&pool[..ASSIGNMENT_MIN_LEN - 1]));
        let hex = "0123456789abcdef".repeat(4);
        assert!(assignment_is_high_entropy(&hex[..ASSIGNMENT_MIN_HEX_LEN]));
        assert!(!assignment_is_high_entropy(
            &hex[..ASSIGNMENT_MIN_HEX_LEN - 1]
        ));
        // Long but repetitive: below the entropy floor.
        assert!(!assignment_is_high_entropy(&"ab12".repeat(10)));
        assert!(shannon_entropy(&"ab12".repeat(10)) < ASSIGNMENT_MIN_ENTROPY);
    }

    #[test]
    fn value_thresholds_are_where_the_docs_say() {
        let pool = distinct(34);
        assert_eq!(
            value_looks_secret(&pool[..VALUE_MIN_LEN]),
            Some(Rule::HighEntropyAssignment)
        );
        assert_eq!(value_looks_secret(&pool[..VALUE_MIN_LEN - 1]), None);
        let lower_and_digits = pool.to_ascii_lowercase();
        assert_eq!(value_looks_secret(&lower_and_digits), None);
    }

    #[test]
    fn placeholders() {
        for value in [
            "",
            "changeme",
            "CHANGE_ME",
            "change-me-please",
            "your-key-here",
            "your_api_key_here",
            "YOUR_OPENAI_KEY",
            "<your token>",
            "${JWT_SECRET}",
            "$SECRET",
            "{{ .Values.password }}",
            "xxxxxxxxxxxxxxxx",
            "****",
            "secret",
            "password",
            "placeholder",
            "example-token-123",
            "dummy",
            "REDACTED",
            "supersecret",
            "my-super-secret-jwt-key",
            "notarealpassword",
            "secret123",
            "a secret",
        ] {
            assert!(is_placeholder(value), "{value:?}");
        }
        for value in [
            "hunter2hunter2",
            "s3cr3t-Pa55w0rd",
            "a1B2c3D4e5F6g7H8",
            "secretsauce",
            "tokenizer",
            "secret98765",
        ] {
            assert!(!is_placeholder(value), "{value:?}");
        }
    }
}

//! Classification by value: entropy, placeholders and token shapes.

use crate::Rule;
use crate::detect;

/// Minimum length of a literal assigned to a secret-looking name before its
/// entropy is considered.
pub const ASSIGNMENT_MIN_LEN: usize = 16;
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
/// with a password ([`Rule::UrlCredentials`]), and finally a random-looking
/// token ([`Rule::HighEntropyAssignment`]): at least [`VALUE_MIN_LEN`]
/// characters of `[A-Za-z0-9+/=_-]` with upper case, lower case and digits
/// and at least [`VALUE_MIN_ENTROPY`] bits per character, not hex-only and not
/// a UUID. The value-only threshold is deliberately stricter than the one for
/// secret-looking names: here a false positive turns an ordinary setting
/// (a build id, a digest, a base64 blob) into a refused `ConfigMap`.
#[must_use]
pub fn value_looks_secret(value: &str) -> Option<Rule> {
    let mut found: Option<Rule> = None;
    detect::scan_text(value.as_bytes(), &mut |_, rule| {
        found = Some(found.map_or(rule, |seen| seen.min(rule)));
    });
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
        && shannon_entropy(token) >= VALUE_MIN_ENTROPY)
        .then_some(Rule::HighEntropyAssignment)
}

/// Whether a literal assigned to a secret-looking name is random enough to be
/// a secret: no whitespace, quotes or `:`; letters and digits; at least
/// [`ASSIGNMENT_MIN_LEN`] characters and [`ASSIGNMENT_MIN_ENTROPY`] bits per
/// character; hex-only literals need [`ASSIGNMENT_MIN_HEX_LEN`] characters;
/// UUIDs never count.
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
    if is_uuid(value) || (is_hex(value) && value.len() < ASSIGNMENT_MIN_HEX_LEN) {
        return false;
    }
    shannon_entropy(value) >= ASSIGNMENT_MIN_ENTROPY
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
        || (folded.starts_with("your") && (folded.ends_with("here") || folded.len() <= 24))
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
        ] {
            assert!(is_placeholder(value), "{value:?}");
        }
        for value in ["hunter2hunter2", "s3cr3t-Pa55w0rd", "a1B2c3D4e5F6g7H8"] {
            assert!(!is_placeholder(value), "{value:?}");
        }
    }
}

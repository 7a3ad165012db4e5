//! Assignments of literals to names: parsing `NAME=value`, `NAME: value`,
//! `"name": "value"`, `name = "value"` around a name keyword, and judging
//! the pair.

use crate::Rule;
use crate::names::{name_is_sensitive, split_words};
use crate::value::{MAX_TOKEN_LEN, assignment_is_high_entropy, is_placeholder};

/// Longest name considered around a keyword.
const MAX_NAME_LEN: usize = 128;
/// Minimum length of a JWT/`*SECRET_KEY` literal.
pub(crate) const JWT_MIN_LEN: usize = 8;

/// An assignment found around a name keyword.
pub(crate) struct Assignment<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    /// Whether the value was unquoted.
    pub(crate) raw: bool,
    /// Where the value ends; keywords before this are part of this assignment.
    pub(crate) end: usize,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_.-".contains(&b)
}

/// Parses the assignment whose name contains the keyword at `at`, inside
/// the line `buf[line_start..line_end]`. Returns the name's end as `Err`
/// when there is no assignment, so the caller can skip the rest of the name.
pub(crate) fn parse(
    buf: &[u8],
    line_start: usize,
    line_end: usize,
    at: usize,
) -> Result<Assignment<'_>, usize> {
    let line = &buf[..line_end];
    let statement = buf[line_start..line_end].trim_ascii_start();
    if statement.starts_with(b">>>") || statement.starts_with(b"...") {
        // Doctest examples are documentation.
        return Err(line_end);
    }
    let name_start = at
        - buf[line_start.max(at.saturating_sub(MAX_NAME_LEN))..at]
            .iter()
            .rev()
            .take_while(|&&b| is_name_byte(b))
            .count();
    let name_end = at
        + line[at..]
            .iter()
            .take(MAX_NAME_LEN)
            .take_while(|&&b| is_name_byte(b))
            .count();
    let fail = Err(name_end);
    let name = std::str::from_utf8(&buf[name_start..name_end]).map_err(|_| name_end)?;
    let quote = name_start
        .checked_sub(1)
        .filter(|&i| i >= line_start)
        .map(|i| buf[i])
        .filter(|b| b"\"'".contains(b));
    let mut i = name_end;
    if let Some(q) = quote {
        if line.get(i) != Some(&q) {
            return fail;
        }
        i += 1;
    }
    let spaced_before = line.get(i).is_some_and(|b| *b == b' ' || *b == b'\t');
    i = skip_blanks(line, i);
    let (separator, width) = match (line.get(i), line.get(i + 1)) {
        (Some(b'='), Some(b'=' | b'~')) | (Some(b':'), Some(b':')) => return fail,
        (Some(b'='), Some(b'>')) | (Some(b':'), Some(b'=')) => (b'>', 2),
        (Some(&sep @ (b'=' | b':')), _) => (sep, 1),
        _ => return fail,
    };
    i += width;
    let spaced_after = line.get(i).is_some_and(|b| *b == b' ' || *b == b'\t');
    i = skip_blanks(line, i);
    let whole_line = starts_line(&buf[line_start..name_start - usize::from(quote.is_some())]);
    if let Some(&q @ (b'"' | b'\'' | b'`')) = line.get(i) {
        let body = i + 1;
        let len = line[body..]
            .iter()
            .take(MAX_TOKEN_LEN + 1)
            .take_while(|&&b| b != q)
            .count();
        if line.get(body + len) != Some(&q) {
            return fail;
        }
        let value = std::str::from_utf8(&line[body..body + len]).map_err(|_| name_end)?;
        return Ok(Assignment {
            name,
            value,
            raw: false,
            end: body + len + 1,
        });
    }
    // `NAME=value` inside a line is a shell or command-line word only when
    // the name starts a word; after `;`, `{`, `.` or `$` it is code.
    let starts_word = name_start == line_start || buf[name_start - 1].is_ascii_whitespace();
    let raw_allowed = match separator {
        b'=' => whole_line || (starts_word && !(spaced_before || spaced_after)),
        b':' => whole_line,
        _ => false,
    };
    if !raw_allowed {
        return fail;
    }
    let len = line[i..]
        .iter()
        .take(MAX_TOKEN_LEN + 1)
        .take_while(|&&b| !b.is_ascii_whitespace() && !b",;)}]&\"'`".contains(&b))
        .count();
    let value = std::str::from_utf8(&line[i..i + len]).map_err(|_| name_end)?;
    let next = line.get(i + len).copied();
    if matches!(next, Some(b'(' | b'['))
        || value.contains(['(', '['])
        || is_code(value, name)
        || (next == Some(b';') && is_identifier(value))
    {
        return fail;
    }
    Ok(Assignment {
        name,
        value,
        raw: true,
        end: i + len,
    })
}

fn skip_blanks(line: &[u8], mut i: usize) -> usize {
    while line.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    i
}

/// Whether the text before a name leaves the name at the start of a
/// statement: indentation, optionally `export `, `ENV `, `ARG `, `set ` or a
/// YAML list dash.
fn starts_line(prefix: &[u8]) -> bool {
    let rest = prefix.trim_ascii_start();
    rest.is_empty() || [&b"export "[..], b"ENV ", b"ARG ", b"set ", b"- "].contains(&rest)
}

/// Whether an unquoted value is code rather than a literal: an identifier
/// without digits (`password`), a snake-case identifier (`max_input_tokens_1`),
/// a dotted path of identifiers (`settings.SECRET_KEY`,
/// `self._lib.NID_aes_256_cbc`), or the name itself passed along
/// (`"token": token`, `exports.X = X`). An identifier followed by `;` is a
/// statement too, which the caller checks.
fn is_code(value: &str, name: &str) -> bool {
    if value == name || name.rsplit('.').next() == Some(value) {
        return true;
    }
    if value.contains('.') {
        return value.split('.').all(is_identifier);
    }
    let snake_case = value.contains('_')
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    is_identifier(value) && (snake_case || !value.bytes().any(|b| b.is_ascii_digit()))
}

/// A Python or JavaScript identifier (ASCII only).
fn is_identifier(part: &str) -> bool {
    part.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$')
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

/// Judges a name/value pair. `raw` values come from unquoted positions
/// (`.env`, YAML, INI, command lines) and get stricter treatment for the
/// JWT rule, which has no entropy threshold.
///
/// Rules, first match wins:
/// - a value with a recognised shape of its own (`sk-`, `AKIA`, `://`, ...)
///   is left to the shape rules;
/// - placeholders never count (see `is_placeholder`), nor does the name
///   itself in another spelling (`AwsSecretKey => "aws-secret-key"`);
/// - [`Rule::AwsSecretKey`]: a name with the words `AWS` and `SECRET` and a
///   value of exactly 40 base64 characters;
/// - [`Rule::JwtSecret`]: a name with the words `JWT` and `SECRET`, or ending
///   in `SECRET_KEY`/`SECRETKEY`, and a value of at least [`JWT_MIN_LEN`]
///   characters (unquoted ones must contain a digit or a symbol);
/// - [`Rule::HighEntropyAssignment`]: a sensitive name
///   ([`name_is_sensitive`]) and a high-entropy value.
pub(crate) fn classify(name: &str, value: &str, raw: bool) -> Option<Rule> {
    let value = value.trim();
    if has_own_shape(value) || is_placeholder(value) {
        return None;
    }
    let words = split_words(name);
    if split_words(value) == words {
        // The name again in another spelling: a mapping table, not a value.
        return None;
    }
    let has = |word: &str| words.iter().any(|w| w == word);
    let last_two = words.len().checked_sub(2).map(|i| &words[i..]);
    if has("AWS")
        && words.iter().any(|w| w.contains("SECRET"))
        && value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Some(Rule::AwsSecretKey);
    }
    let jwt_name = (has("JWT") && words.iter().any(|w| w.starts_with("SECRET")))
        || words.last().is_some_and(|w| w == "SECRETKEY")
        || last_two.is_some_and(|pair| pair[0] == "SECRET" && pair[1] == "KEY");
    let jwt_value = value.len() >= JWT_MIN_LEN
        && !value.contains(char::is_whitespace)
        && (!raw || value.bytes().any(|b| !b.is_ascii_alphabetic()));
    if jwt_name && jwt_value {
        return Some(Rule::JwtSecret);
    }
    (name_is_sensitive(name) && assignment_is_high_entropy(value))
        .then_some(Rule::HighEntropyAssignment)
}

/// Whether a value starts with a prefix that a shape rule judges on its own.
fn has_own_shape(value: &str) -> bool {
    [
        "sk-",
        "AKIA",
        "ASIA",
        "AIza",
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "ghr_",
        "github_pat_",
        "-----BEGIN",
    ]
    .iter()
    .any(|prefix| value.starts_with(prefix))
        || value.contains("://")
}

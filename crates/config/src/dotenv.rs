//! A small, strict `.env` parser.
//!
//! The syntax is the common dotenv one:
//!
//! - `KEY=value` per line; keys are `[A-Za-z_][A-Za-z0-9_]*`; spaces and tabs
//!   around `=` are ignored; an optional `export ` prefix is ignored.
//! - Blank lines and lines starting with `#` are skipped.
//! - Unquoted values run to the end of the line; a `#` preceded by whitespace
//!   starts a comment; trailing whitespace is trimmed; backslashes and quotes
//!   are literal.
//! - `'single quoted'` values are literal: no escapes, no expansion; they may
//!   span lines.
//! - `"double quoted"` values may span lines and understand the escapes `\n`,
//!   `\r`, `\t`, `\"`, `\\` and `\$`; any other escape is an error.
//! - After a closing quote only whitespace and a `#` comment may follow.
//!
//! Expansion: `${NAME}` in unquoted and double-quoted values is replaced by
//! the value of `NAME`, looked up in the same order as precedence: first the
//! process environment, then keys defined earlier in the same file, then the
//! files read before it. An undefined name is an error (a typo should not
//! become an empty string); `$` not followed by `{` is literal. For a literal
//! `${`, use single quotes or `\$` in double quotes.
//!
//! A key defined twice in one file takes its last value.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::DotenvError;
use crate::location::Location;

/// One `KEY=value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvEntry {
    /// The variable name.
    pub key: String,
    /// The value, unquoted, unescaped and expanded.
    pub value: String,
    /// The 1-based line the assignment starts on.
    pub line: usize,
}

/// Where `${NAME}` looks names up besides the file's own earlier keys.
#[derive(Clone, Copy)]
pub struct Expand<'a> {
    /// Checked before the file's own keys (the process environment).
    pub first: &'a dyn Fn(&str) -> Option<String>,
    /// Checked after the file's own keys (files read before this one).
    pub last: &'a dyn Fn(&str) -> Option<String>,
}

fn nothing(_: &str) -> Option<String> {
    None
}

impl Expand<'_> {
    /// Expansion from the file's own earlier keys only.
    pub const OWN_KEYS_ONLY: Expand<'static> = Expand {
        first: &nothing,
        last: &nothing,
    };
}

impl std::fmt::Debug for Expand<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expand")
    }
}

/// Parses `source`, the text of the `.env` file `file`.
///
/// # Errors
///
/// [`DotenvError`] at the first malformed line, with its line, column and
/// the fix.
pub fn parse(
    file: &Path,
    source: &str,
    expand: Expand<'_>,
) -> Result<Vec<DotenvEntry>, DotenvError> {
    let mut parser = Parser {
        file,
        source,
        pos: 0,
        line: 1,
        column: 1,
        expand,
        own: BTreeMap::new(),
    };
    let mut entries = Vec::new();
    loop {
        parser.skip_blanks();
        match parser.peek() {
            None => break,
            Some('\n') => {
                parser.bump();
            }
            Some('#') => parser.skip_line(),
            Some(_) => {
                let entry = parser.entry()?;
                parser.own.insert(entry.key.clone(), entry.value.clone());
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

/// `value` as a double-quoted `.env` value that parses back to itself.
#[must_use]
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\r' => out.push_str("\\r"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

struct Parser<'a> {
    file: &'a Path,
    source: &'a str,
    pos: usize,
    line: usize,
    column: usize,
    expand: Expand<'a>,
    own: BTreeMap<String, String>,
}

/// A saved position, for errors that point back at an opening quote.
#[derive(Clone, Copy)]
struct Mark {
    line: usize,
    column: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.source[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.source[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn mark(&self) -> Mark {
        Mark {
            line: self.line,
            column: self.column,
        }
    }

    fn error(&self, at: Mark, reason: impl Into<String>) -> DotenvError {
        DotenvError {
            location: Location {
                file: self.file.to_path_buf(),
                line: at.line,
                column: at.column,
            },
            reason: reason.into(),
        }
    }

    /// Spaces, tabs, and a `\r` that ends a line.
    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek() {
            let line_ending_cr = c == '\r' && self.peek_second() == Some('\n');
            if c == ' ' || c == '\t' || line_ending_cr {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            name.push(c);
            self.bump();
        }
        name
    }

    fn entry(&mut self) -> Result<DotenvEntry, DotenvError> {
        let start = self.mark();
        let mut key = self.name();
        if key == "export" && matches!(self.peek(), Some(' ' | '\t')) {
            self.skip_blanks();
            key = self.name();
        }
        let at = self.mark();
        if key.is_empty() {
            let found = self
                .peek()
                .map_or_else(|| "the end of the file".to_owned(), describe);
            return Err(self.error(
                at,
                format!("expected a variable name, found {found}; names are letters, digits and `_`, not starting with a digit"),
            ));
        }
        if key.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error(
                start,
                format!("variable name `{key}` starts with a digit; names are letters, digits and `_`, not starting with a digit"),
            ));
        }
        self.skip_blanks();
        match self.peek() {
            Some('=') => {
                self.bump();
            }
            Some(c) if c != '\n' => {
                return Err(self.error(
                    at,
                    format!(
                        "unexpected {} in variable name `{key}`; names are letters, digits and `_`",
                        describe(c)
                    ),
                ));
            }
            _ => {
                return Err(self.error(
                    at,
                    format!("expected `=` after `{key}`; write `{key}=value`"),
                ));
            }
        }
        self.skip_blanks();
        let value = match self.peek() {
            Some('\'') => self.single_quoted()?,
            Some('"') => self.double_quoted()?,
            _ => self.unquoted()?,
        };
        Ok(DotenvEntry {
            key,
            value,
            line: start.line,
        })
    }

    fn single_quoted(&mut self) -> Result<String, DotenvError> {
        let open = self.mark();
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(
                        self.error(open, "unterminated single-quoted value; close it with `'`")
                    );
                }
                Some('\'') => break,
                Some(c) => value.push(c),
            }
        }
        self.after_quote()?;
        Ok(value)
    }

    fn double_quoted(&mut self) -> Result<String, DotenvError> {
        let open = self.mark();
        self.bump();
        let mut value = String::new();
        loop {
            let at = self.mark();
            match self.bump() {
                None => {
                    return Err(
                        self.error(open, "unterminated double-quoted value; close it with `\"`")
                    );
                }
                Some('"') => break,
                Some('\\') => match self.bump() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some(c @ ('"' | '\\' | '$')) => value.push(c),
                    Some(c) => {
                        return Err(self.error(
                            at,
                            format!("unknown escape `\\{c}` in a double-quoted value; the escapes are \\n \\r \\t \\\" \\\\ \\$, write `\\\\` for a backslash"),
                        ));
                    }
                    None => {
                        return Err(self
                            .error(open, "unterminated double-quoted value; close it with `\"`"));
                    }
                },
                Some('$') if self.peek() == Some('{') => {
                    let expanded = self.expansion(at)?;
                    value.push_str(&expanded);
                }
                Some(c) => value.push(c),
            }
        }
        self.after_quote()?;
        Ok(value)
    }

    fn after_quote(&mut self) -> Result<(), DotenvError> {
        self.skip_blanks();
        match self.peek() {
            None | Some('\n') => Ok(()),
            Some('#') => {
                self.skip_line();
                Ok(())
            }
            // The text may be part of a secret, so it is not quoted back.
            Some(_) => Err(self.error(
                self.mark(),
                "unexpected text after the closing quote; quote the whole value, or start a comment with ` #`",
            )),
        }
    }

    fn unquoted(&mut self) -> Result<String, DotenvError> {
        let mut value = String::new();
        // Whitespace before `=`'s value was skipped, so a `#` here starts a comment.
        let mut after_blank = true;
        while let Some(c) = self.peek() {
            match c {
                '\n' => break,
                '#' if after_blank => {
                    self.skip_line();
                    return Ok(value.trim_end().to_owned());
                }
                '$' if self.peek_second() == Some('{') => {
                    let at = self.mark();
                    self.bump();
                    let expanded = self.expansion(at)?;
                    value.push_str(&expanded);
                }
                _ => {
                    self.bump();
                    value.push(c);
                }
            }
            after_blank = c == ' ' || c == '\t';
        }
        self.bump();
        Ok(value.trim_end_matches([' ', '\t', '\r']).to_owned())
    }

    /// `{NAME}` after a `$` at `at`.
    fn expansion(&mut self, at: Mark) -> Result<String, DotenvError> {
        self.bump();
        let name = self.name();
        if self.peek() != Some('}') {
            return Err(self.error(
                at,
                "unterminated or malformed `${`; write `${NAME}` with a variable name, or use single quotes for a literal `${`",
            ));
        }
        self.bump();
        (self.expand.first)(&name)
            .or_else(|| self.own.get(&name).cloned())
            .or_else(|| (self.expand.last)(&name))
            .ok_or_else(|| {
                self.error(
                    at,
                    format!("`${{{name}}}` is not set: define `{name}` earlier in this file, in a file read before it, or in the process environment; for a literal `${{`, use single quotes"),
                )
            })
    }
}

fn describe(c: char) -> String {
    match c {
        '\n' => "the end of the line".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

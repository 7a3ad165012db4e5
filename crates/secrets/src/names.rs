//! Classification by name: variable names and file names.

/// Words that make a name sensitive when a word of the name is one of them
/// or ends with one of them (`DB_PASSWORD`, `apiToken`, `AUTHTOKEN`).
const SENSITIVE_SUFFIXES: [&str; 6] = [
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "CREDENTIAL",
    "CREDS",
];

/// Prefixes that may be glued to `KEY` in one word and still mean a key
/// (`APIKEY`, `PRIVATEKEY`); any other glued prefix (`MONKEY`, `TURKEY`,
/// `HOCKEY`) does not.
const GLUED_KEY_PREFIXES: [&str; 11] = [
    "API",
    "PRIVATE",
    "SECRET",
    "ACCESS",
    "SIGNING",
    "ENCRYPTION",
    "MASTER",
    "AUTH",
    "CLIENT",
    "LICENSE",
    "SESSION",
];

/// A `KEY` directly after one of these words names something public.
const PUBLIC_KEY_QUALIFIERS: [&str; 4] = ["PUBLIC", "PUBLISHABLE", "GPG", "PGP"];

/// A name whose last word is one of these names where a secret lives, or a
/// property of it, not the secret itself (`TOKEN_URL`, `PASSWORD_FILE`,
/// `JWT_SECRET_TTL`).
const NON_SECRET_LAST_WORDS: [&str; 19] = [
    "URL",
    "URI",
    "ENDPOINT",
    "HOST",
    "PORT",
    "PATH",
    "FILE",
    "DIR",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "LENGTH",
    "TIMEOUT",
    "ALGORITHM",
    "HEADER",
    "TYPE",
    "NAME",
    "PLACEHOLDER",
];

/// Whether a variable, key or property name suggests its value is secret.
///
/// The name is split into words at `_`, `-`, `.`, spaces and camelCase
/// boundaries, and upper-cased. It is sensitive when:
///
/// - a word is, or ends with, `SECRET`, `PASSWORD`, `PASSWD`, `TOKEN`,
///   `CREDENTIAL` or `CREDS`, optionally plural (`DB_PASSWORD`,
///   `githubToken`, `AWS_CREDENTIALS`; not `TOKENIZERS_PARALLELISM`,
///   `SECRETARY`);
/// - a word is `KEY`/`KEYS`, or `KEY` glued to a known prefix (`APIKEY`,
///   `PRIVATEKEY`, `SECRETKEY`, ...), unless the word before it is `PUBLIC`,
///   `PUBLISHABLE`, `GPG` or `PGP`. So `API_KEY`, `apiKey` and `APIKEY` are
///   sensitive while `MONKEY`, `KEYCLOAK_URL`, `KEYBOARD_LAYOUT`,
///   `STRIPE_PUBLISHABLE_KEY` and `GPG_KEY` are not;
/// - or it is `DATABASE_URL` or ends with `_DATABASE_URL`.
///
/// A name whose last word only describes where or how a secret is kept
/// (`URL`, `URI`, `ENDPOINT`, `HOST`, `PORT`, `PATH`, `FILE`, `DIR`, `TTL`,
/// `EXPIRY`, `EXPIRES`, `EXPIRATION`, `LENGTH`, `TIMEOUT`, `ALGORITHM`,
/// `HEADER`, `TYPE`, `NAME`, `PLACEHOLDER`) is not sensitive: `TOKEN_URL`,
/// `PASSWORD_FILE` and `JWT_SECRET_TTL` hold no secret. A URL that carries
/// a password is still caught by its value (see [`crate::value_looks_secret`]).
#[must_use]
pub fn name_is_sensitive(name: &str) -> bool {
    let words = split_words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if last == "URL" && words.len() >= 2 && words[words.len() - 2] == "DATABASE" {
        return true;
    }
    if NON_SECRET_LAST_WORDS.contains(&last.as_str()) {
        return false;
    }
    words.iter().enumerate().any(|(index, word)| {
        let singular = word.strip_suffix('S').unwrap_or(word);
        if SENSITIVE_SUFFIXES
            .iter()
            .any(|suffix| word.ends_with(suffix) || singular.ends_with(suffix))
        {
            return true;
        }
        if singular == "KEY" {
            let qualifier = index.checked_sub(1).map(|before| words[before].as_str());
            return !qualifier.is_some_and(|q| PUBLIC_KEY_QUALIFIERS.contains(&q));
        }
        singular
            .strip_suffix("KEY")
            .is_some_and(|prefix| GLUED_KEY_PREFIXES.contains(&prefix))
    })
}

/// Splits a name into upper-cased words at separators and camelCase humps.
pub(crate) fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        let hump = c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
        if hump && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_uppercase());
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a path names a dotenv file: `.env`, `.env.*` or `*.env`, except
/// the committed templates `.env.example`, `.env.sample`, `.env.template`
/// (and `*.example`/`*.sample`/`*.template` generally, e.g. `prod.env.example`).
///
/// Only the last path component counts; the match is case-sensitive, as the
/// tools that read these files are.
#[must_use]
pub fn is_dotenv_file(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let is_template = [".example", ".sample", ".template", ".dist"]
        .iter()
        .any(|suffix| name.ends_with(suffix));
    if is_template {
        return false;
    }
    name == ".env"
        || name.starts_with(".env.")
        || name
            .strip_suffix(".env")
            .is_some_and(|stem| !stem.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names() {
        for name in [
            "SECRET",
            "JWT_SECRET",
            "client_secret",
            "clientSecret",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "dbPassword",
            "POSTGRES_PASSWD",
            "GITHUB_TOKEN",
            "accessToken",
            "AUTHTOKEN",
            "API_KEY",
            "apiKey",
            "APIKEY",
            "OPENAI_API_KEY",
            "PRIVATE_KEY",
            "privateKey",
            "SECRET_KEY",
            "KEY",
            "ENCRYPTION_KEYS",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "aws_credentials",
            "DATABASE_URL",
            "ASYNC_DATABASE_URL",
            "spring.datasource.password",
            "x-api-key",
            "SECRETS",
            "TOKENS",
            "PUBLIC_KEY_PASSWORD",
        ] {
            assert!(name_is_sensitive(name), "{name} should be sensitive");
        }
    }

    #[test]
    fn ordinary_names() {
        for name in [
            "",
            "PATH",
            "HOME",
            "PORT",
            "NODE_ENV",
            "MONKEY",
            "KEYCLOAK_URL",
            "KEYBOARD_LAYOUT",
            "keyframes",
            "TURKEY",
            "TOKENIZERS_PARALLELISM",
            "SECRETARY",
            "PASSWORDLESS_LOGIN",
            "TOKEN_URL",
            "PASSWORD_FILE",
            "JWT_SECRET_TTL",
            "tokenType",
            "STRIPE_PUBLISHABLE_KEY",
            "PUBLIC_KEY",
            "GPG_KEY",
            "REDIS_URL",
            "DATABASE_HOST",
            "BACKEND_URL",
            "NEXT_PUBLIC_API_URL",
        ] {
            assert!(!name_is_sensitive(name), "{name} should not be sensitive");
        }
    }

    #[test]
    fn words_split_at_separators_and_humps() {
        assert_eq!(
            split_words("awsSecretAccessKey"),
            ["AWS", "SECRET", "ACCESS", "KEY"]
        );
        assert_eq!(split_words("x-api.key_ID"), ["X", "API", "KEY", "ID"]);
        assert_eq!(split_words("OAuth2Token"), ["OAUTH2", "TOKEN"]);
    }

    #[test]
    fn dotenv_files() {
        for path in [
            ".env",
            "/app/.env",
            "app/.env.local",
            ".env.production",
            "prod.env",
            "backend/secrets.env",
        ] {
            assert!(is_dotenv_file(path), "{path}");
        }
        for path in [
            ".env.example",
            "/app/.env.sample",
            ".env.template",
            "prod.env.example",
            ".envrc",
            "environment.py",
            ".env/",
            "venv/bin/activate",
            "app/env",
            ".env.d/x.conf",
            "a.env/readme",
        ] {
            assert!(!is_dotenv_file(path), "{path}");
        }
    }
}

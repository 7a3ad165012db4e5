//! Classification for configuration (CFG-1): values on their own, image
//! config entries, labels and history text.

use std::collections::BTreeMap;

use hoist_secrets::{Allowlist, Finding, Rule, Scanner, name_is_sensitive, value_looks_secret};
use hoist_testkit::fake_secret;

use crate::fakes;

#[test]
fn values_that_look_secret_on_their_own() {
    let mut cases = fakes::prefixed_keys();
    cases.extend([
        (fakes::pem_block("EC ", 8), Rule::PrivateKey),
        (
            format!("postgres://app:{}@db:5432/app", fakes::random(16, 9)),
            Rule::UrlCredentials,
        ),
        (
            format!("redis://:{}@cache:6379/0", fakes::random(24, 10)),
            Rule::UrlCredentials,
        ),
        // Any password in a configuration value, even a default one.
        (
            "postgres://postgres:postgres@db:5432/app".to_owned(),
            Rule::UrlCredentials,
        ),
        (
            "postgresql://user:password@localhost/app".to_owned(),
            Rule::UrlCredentials,
        ),
        (
            "amqp://guest:guest@rabbit//".to_owned(),
            Rule::UrlCredentials,
        ),
        (
            format!("A1b{}", fakes::random(37, 11)),
            Rule::HighEntropyAssignment,
        ),
        (
            format!("  Zz9{}\n", fakes::random(45, 12)),
            Rule::HighEntropyAssignment,
        ),
    ]);
    for (value, rule) in cases {
        assert_eq!(value_looks_secret(&value), Some(rule), "{rule}");
    }
}

#[test]
fn ordinary_values_do_not() {
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    for value in [
        "",
        "true",
        "3000",
        "production",
        "0.0.0.0",
        "https://api.example.com/v1",
        "postgres://db:5432/app",
        "postgres://app:${DB_PASSWORD}@db/app",
        "postgres://app:$DB_PASSWORD@db/app",
        "https://git@github.com/acme/todo.git",
        "postgres://app@db/app",
        "/usr/local/lib/python3.11/site-packages",
        "3f2a9c4e-1b7d-4e8a-9f0c-2d5b6a7e8c91",
        sha256,
        &sha256[..40],
        "Hq7tZ2bXwR4kLm9pQv3sN",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "changeme",
        "your-openai-key-here",
        "Use an sk- key from the dashboard",
        "{\"level\": \"info\", \"format\": \"json\"}",
        "bm90IG15IHJlYWwgcGFzc3dvcmQgYXQgYWxsLCByZWFsbHk=",
        "1.2.3-beta.4+build.5678",
        "2026-11-22T03:05:00Z",
        "text/html; charset=utf-8",
    ] {
        assert_eq!(value_looks_secret(value), None, "{value:?}");
    }
}

#[test]
fn base64_public_keys_are_not_secret_but_private_ones_are() {
    // A DER SubjectPublicKeyInfo opens SEQUENCE { SEQUENCE ...; a PKCS#8
    // private key opens SEQUENCE { INTEGER 0 ...
    let body: Vec<u8> = fake_secret("", 60, 13).into_bytes();
    let mut public = vec![0x30, 0x59, 0x30, 0x13];
    public.extend(&body);
    let mut private = vec![0x30, 0x81, 0x87, 0x02, 0x01, 0x00];
    private.extend(&body);
    let (public, private) = (base64(&public), base64(&private));
    assert_eq!(value_looks_secret(&public), None, "{public}");
    assert_eq!(
        value_looks_secret(&private),
        Some(Rule::HighEntropyAssignment),
        "{private}"
    );
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[test]
fn config_names_for_secrets() {
    for name in [
        "OPENAI_API_KEY",
        "JWT_SECRET",
        "DATABASE_URL",
        "POSTGRES_PASSWORD",
        "GITHUB_TOKEN",
    ] {
        assert!(name_is_sensitive(name), "{name}");
    }
    for name in [
        "NEXT_PUBLIC_API_URL",
        "PORT",
        "LOG_LEVEL",
        "KEYCLOAK_URL",
        "MONKEY",
        "TOKENIZERS_PARALLELISM",
    ] {
        assert!(!name_is_sensitive(name), "{name}");
    }
}

fn lines_and_rules(findings: &[Finding]) -> Vec<(Option<usize>, Rule)> {
    findings.iter().map(|f| (f.line, f.rule)).collect()
}

#[test]
fn image_env_entries_by_index() {
    let scanner = Scanner::new(Allowlist::new());
    let env = [
        "PATH=/usr/local/bin:/usr/bin".to_owned(),
        "PYTHONUNBUFFERED=1".to_owned(),
        format!("OPENAI_API_KEY={}", fakes::openai(20)),
        format!("SESSION_SECRET={}", fakes::random(32, 21)),
        "JWT_SECRET=changeme".to_owned(),
        format!("JWT_SECRET_KEY={}", fakes::random(12, 22)),
        format!(
            "DATABASE_URL=postgres://app:{}@db/app",
            fakes::random(18, 23)
        ),
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D".to_owned(),
        "NO_EQUALS_SIGN".to_owned(),
        format!("AWS_SECRET_ACCESS_KEY={}", fakes::aws_secret(24)),
    ];
    let findings = scanner.scan_env("config.Env", &env);
    assert_eq!(
        lines_and_rules(&findings),
        [
            (Some(3), Rule::OpenAiKey),
            (Some(4), Rule::HighEntropyAssignment),
            (Some(6), Rule::JwtSecret),
            (Some(7), Rule::UrlCredentials),
            (Some(10), Rule::AwsSecretKey),
        ]
    );
    assert_eq!(
        findings[0].to_string(),
        "config.Env:3: openai-key (OpenAI API key)"
    );
}

#[test]
fn labels_in_key_order() {
    let scanner = Scanner::new(Allowlist::new());
    let labels = BTreeMap::from([
        (
            "org.opencontainers.image.revision".to_owned(),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b".to_owned(),
        ),
        (
            "org.opencontainers.image.source".to_owned(),
            "https://github.com/acme/todo".to_owned(),
        ),
        ("com.acme.deploy-token".to_owned(), fakes::github("ghp", 30)),
        ("com.acme.api-token".to_owned(), fakes::random(40, 31)),
    ]);
    let findings = scanner.scan_labels("config.Labels", &labels);
    assert_eq!(
        lines_and_rules(&findings),
        [
            (Some(1), Rule::HighEntropyAssignment),
            (Some(2), Rule::GithubToken)
        ]
    );
}

#[test]
fn history_text() {
    let scanner = Scanner::new(Allowlist::new());
    let quiet = "/bin/sh -c #(nop)  ENV PYTHONDONTWRITEBYTECODE=1";
    assert_eq!(scanner.scan_text("history[1].created_by", quiet), []);
    let loud = format!(
        "RUN /bin/sh -c pip install -r r.txt &&     GITHUB_TOKEN={} ./fetch.sh",
        fakes::github("gho", 40)
    );
    let findings = scanner.scan_text("history[4].created_by", &loud);
    assert_eq!(
        findings[0].to_string(),
        "history[4].created_by:1: github-token (GitHub token)"
    );
    assert_eq!(findings.len(), 1);
    let build_arg = format!("|1 API_TOKEN={} /bin/sh -c make", fakes::random(40, 41));
    assert_eq!(
        lines_and_rules(&scanner.scan_text("history[5].created_by", &build_arg)),
        [(Some(1), Rule::HighEntropyAssignment)]
    );
}

#[test]
fn binary_files_get_key_shapes_only() {
    let scanner = Scanner::new(Allowlist::new());
    let mut content = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    content.extend(format!("\nJWT_SECRET={}\n", fakes::random(30, 50)).bytes());
    content.extend(format!("\0{}\0", fakes::google(51)).bytes());
    content.extend(fakes::pem_block("", 52).bytes());
    let findings = scanner.scan_file("/usr/lib/libx.so", &content);
    assert_eq!(
        lines_and_rules(&findings),
        [(None, Rule::PrivateKey), (None, Rule::GoogleApiKey)]
    );
    // A NUL after the first 8 KiB does not make a text file binary.
    let mut text = "a = 1\n".repeat(2000).into_bytes();
    text.push(0);
    text.extend(format!("\nJWT_SECRET={}\n", fakes::random(30, 50)).bytes());
    assert_eq!(
        lines_and_rules(&scanner.scan_file("/x", &text)),
        [(Some(2002), Rule::JwtSecret)]
    );
}

#[test]
fn allowlisted_findings_are_dropped() {
    let mut allow = Allowlist::new();
    allow
        .allow("/app/fixtures/**", Some(Rule::PrivateKey))
        .unwrap();
    let scanner = Scanner::new(allow);
    let content = format!(
        "{}x = \"{}\"\n",
        fakes::pem_block("", 60),
        fakes::openai(61)
    );
    let findings = scanner.scan_file("/app/fixtures/keys/a.pem", content.as_bytes());
    assert_eq!(lines_and_rules(&findings), [(Some(7), Rule::OpenAiKey)]);
}

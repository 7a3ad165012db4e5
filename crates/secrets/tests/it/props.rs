//! Property tests: planted secrets are found on their line, findings never
//! carry a value, line numbers stay inside the file, and streaming agrees
//! with whole-file scanning.

use hoist_secrets::{Allowlist, Finding, Rule, Scanner};
use proptest::prelude::*;

use crate::fakes;
use crate::reader::Trickle;

/// Lines of ordinary code and configuration to surround the secrets with.
const ORDINARY: [&str; 12] = [
    "import os",
    "PORT=3000",
    "  key: value",
    "const token = req.headers.get(\"authorization\");",
    "password = os.environ[\"DB_PASSWORD\"]",
    "\"integrity\": \"sha512-abc\",",
    "https://example.com/path?q=1",
    "",
    "# The API key starts with sk- and lives in the vault.",
    "SECRET_KEY = settings.SECRET_KEY",
    "    return jwt.encode(payload, secret_key, algorithm=\"HS256\")",
    "}",
];

/// A planted secret and the rule that must report it.
fn plant(kind: u8, seed: u64) -> (String, Rule) {
    let secret = match kind % 7 {
        0 => (fakes::openai(seed), Rule::OpenAiKey),
        1 => (fakes::anthropic(seed), Rule::AnthropicKey),
        2 => (fakes::aws_id(seed), Rule::AwsAccessKeyId),
        3 => (fakes::google(seed), Rule::GoogleApiKey),
        4 => (fakes::github("ghp", seed), Rule::GithubToken),
        5 => (fakes::github_pat(seed), Rule::GithubToken),
        _ => (
            format!("A1b{}", fakes::random(40, seed)),
            Rule::HighEntropyAssignment,
        ),
    };
    (secret.0, secret.1)
}

fn line_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..ORDINARY.len()).prop_map(|i| ORDINARY[i].to_owned()),
        "[ -~]{0,100}",
    ]
}

fn assert_clean_output(findings: &[Finding], secrets: &[String]) {
    for finding in findings {
        for shown in [finding.to_string(), format!("{finding:?}")] {
            for secret in secrets {
                assert!(!shown.contains(secret.as_str()), "{shown}");
                assert!(!shown.contains(&secret[secret.len() - 12..]), "{shown}");
            }
        }
    }
}

proptest! {
    #[test]
    fn planted_secrets_are_found_and_never_shown(
        mut lines in prop::collection::vec(line_strategy(), 0..40),
        plants in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u64>()), 1..5),
        steps in prop::collection::vec(1_usize..300, 1..4),
    ) {
        let mut secrets = Vec::new();
        let mut expected = Vec::new();
        for (at, kind, seed) in plants {
            let (secret, rule) = plant(kind, seed);
            let at = at.index(lines.len() + 1);
            lines.insert(at, format!("API_TOKEN=\"{secret}\""));
            for (_, line) in &mut expected {
                if *line > at {
                    *line += 1;
                }
            }
            expected.push((rule, at + 1));
            secrets.push(secret);
        }
        let content = lines.join("\n");
        let scanner = Scanner::new(Allowlist::new());
        let findings = scanner.scan_file("/app/src/x.py", content.as_bytes());
        for (rule, line) in &expected {
            prop_assert!(
                findings.iter().any(|f| f.line == Some(*line) && f.rule == *rule),
                "{rule} on line {line} not found in {findings:?}"
            );
        }
        let line_count = lines.len().max(1);
        for finding in &findings {
            let line = finding.line.expect("text findings have lines");
            prop_assert!((1..=line_count).contains(&line), "line {line} of {line_count}");
        }
        assert_clean_output(&findings, &secrets);
        let streamed = scanner
            .scan_reader("/app/src/x.py", Trickle { data: content.as_bytes(), steps: &steps, turn: 0 })
            .unwrap();
        prop_assert_eq!(streamed, findings);
    }

    #[test]
    fn arbitrary_bytes_scan_consistently(
        content in prop::collection::vec(any::<u8>(), 0..2000),
        steps in prop::collection::vec(1_usize..64, 1..4),
    ) {
        let scanner = Scanner::new(Allowlist::new());
        let findings = scanner.scan_file("/blob", &content);
        let line_count = memchr::memchr_iter(b'\n', &content).count() + 1;
        for finding in &findings {
            if let Some(line) = finding.line {
                prop_assert!((1..=line_count).contains(&line));
            }
        }
        let streamed = scanner.scan_reader("/blob", Trickle { data: &content, steps: &steps, turn: 0 }).unwrap();
        prop_assert_eq!(streamed, findings);
    }

    #[test]
    fn anchor_soup_scans_consistently(
        pieces in prop::collection::vec(0_usize..FRAGMENTS.len(), 0..200),
        steps in prop::collection::vec(1_usize..64, 1..4),
    ) {
        // Text made of the bytes the rules look at, to reach every parser
        // path with odd neighbours: no panic, lines in range, streaming agrees.
        let content: String = pieces.iter().map(|&i| FRAGMENTS[i]).collect();
        let scanner = Scanner::new(Allowlist::new());
        let findings = scanner.scan_file("/soup", content.as_bytes());
        let line_count = content.lines().count().max(1);
        for finding in &findings {
            let line = finding.line.expect("text findings have lines");
            prop_assert!((1..=line_count).contains(&line), "line {line} of {line_count}");
        }
        let streamed = scanner.scan_reader("/soup", Trickle { data: content.as_bytes(), steps: &steps, turn: 0 }).unwrap();
        prop_assert_eq!(streamed, findings);
        let _ = hoist_secrets::value_looks_secret(&content);
    }
}

/// Pieces of text around which the rules do their work.
const FRAGMENTS: [&str; 32] = [
    "key",
    "KEY",
    "Token",
    "secret",
    "password",
    "_",
    ".",
    "=",
    "==",
    ":",
    "::",
    " ",
    "\"",
    "'",
    "`",
    "\n",
    "\\n",
    "$",
    "(",
    "[",
    "sk-",
    "ant-",
    "AKIA",
    "AIza",
    "ghp_",
    "://",
    "@",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "service_account",
    "A1b2C3d4E5f6G7h8",
    "%4",
];

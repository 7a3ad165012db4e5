//! The planted value never appears in what a finding prints.

use std::collections::BTreeMap;

use hoist_secrets::{Allowlist, Finding, Scanner};

use crate::fakes;

fn assert_no_leak(findings: &[Finding], secret: &str) {
    assert!(!findings.is_empty(), "the secret was not found at all");
    for finding in findings {
        for shown in [
            finding.to_string(),
            format!("{finding:?}"),
            format!("{finding:#?}"),
        ] {
            assert!(!shown.contains(secret), "value leaked: {shown}");
            // Not even a recognisable part of it.
            assert!(
                !shown.contains(&secret[secret.len() - 12..]),
                "value leaked: {shown}"
            );
        }
    }
}

#[test]
fn findings_never_show_the_value() {
    let scanner = Scanner::new(Allowlist::new());
    let secrets = [
        fakes::openai(21),
        fakes::anthropic(22),
        fakes::github_pat(23),
        fakes::random(40, 24),
    ];
    for secret in &secrets {
        let file = format!("A=1\nOPENAI_API_KEY={secret}\n");
        assert_no_leak(&scanner.scan_file("/app/.env", file.as_bytes()), secret);
        assert_no_leak(
            &scanner.scan_env("config.Env", &[format!("API_TOKEN={secret}")]),
            secret,
        );
        let labels = BTreeMap::from([("org.example.token".to_owned(), secret.clone())]);
        assert_no_leak(&scanner.scan_labels("config.Labels", &labels), secret);
        let history = format!("/bin/sh -c SECRET_TOKEN={secret} ./build.sh");
        assert_no_leak(
            &scanner.scan_text("history[2].created_by", &history),
            secret,
        );
    }
}

//! Fake secrets built at test time.

use hoist_secrets::Rule;
use hoist_testkit::fake_secret;

/// `-----BEGIN {kind}PRIVATE KEY-----`, assembled so no source file holds it.
pub(crate) fn pem_begin(kind: &str) -> String {
    format!(
        "{}BEGIN {kind}{} KEY{}",
        "-".repeat(5),
        "PRIVATE",
        "-".repeat(5)
    )
}

/// The matching END line.
pub(crate) fn pem_end(kind: &str) -> String {
    format!(
        "{}END {kind}{} KEY{}",
        "-".repeat(5),
        "PRIVATE",
        "-".repeat(5)
    )
}

/// A PEM private key block of fake base64 lines.
pub(crate) fn pem_block(kind: &str, seed: u64) -> String {
    let body: Vec<String> = (0..4).map(|i| fake_secret("", 64, seed + i)).collect();
    format!(
        "{}\n{}\n{}\n",
        pem_begin(kind),
        body.join("\n"),
        pem_end(kind)
    )
}

/// An OpenAI-shaped key.
pub(crate) fn openai(seed: u64) -> String {
    fake_secret("sk-", 48, seed)
}

/// A project-scoped OpenAI-shaped key.
pub(crate) fn openai_project(seed: u64) -> String {
    fake_secret(&format!("sk-{}-", "proj"), 120, seed)
}

/// An Anthropic-shaped key.
pub(crate) fn anthropic(seed: u64) -> String {
    fake_secret(&format!("sk-{}-api03-", "ant"), 93, seed)
}

/// An AWS access key id.
pub(crate) fn aws_id(seed: u64) -> String {
    let body = fake_secret("", 16, seed).to_ascii_uppercase();
    format!("{}{body}", ["AK", "IA"].concat())
}

/// A 40-character AWS secret access key.
pub(crate) fn aws_secret(seed: u64) -> String {
    let mut key = fake_secret("", 40, seed);
    key.replace_range(10..11, "/");
    key
}

/// A Google API key.
pub(crate) fn google(seed: u64) -> String {
    fake_secret(&["AI", "za"].concat(), 35, seed)
}

/// A classic GitHub personal access token.
pub(crate) fn github(prefix: &str, seed: u64) -> String {
    fake_secret(&format!("{prefix}_"), 36, seed)
}

/// A fine-grained GitHub token.
pub(crate) fn github_pat(seed: u64) -> String {
    fake_secret(&["github", "_pat_"].concat(), 82, seed)
}

/// One key of each prefixed shape, with the rule that reports it.
pub(crate) fn prefixed_keys() -> Vec<(String, Rule)> {
    vec![
        (openai(1), Rule::OpenAiKey),
        (openai_project(2), Rule::OpenAiKey),
        (anthropic(3), Rule::AnthropicKey),
        (aws_id(4), Rule::AwsAccessKeyId),
        (google(5), Rule::GoogleApiKey),
        (github("ghp", 6), Rule::GithubToken),
        (github("gho", 7), Rule::GithubToken),
        (github("ghs", 8), Rule::GithubToken),
        (github_pat(9), Rule::GithubToken),
    ]
}

/// A random password-like value.
pub(crate) fn random(len: usize, seed: u64) -> String {
    fake_secret("", len, seed)
}

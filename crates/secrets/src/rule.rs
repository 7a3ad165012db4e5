//! The detection rules and their stable ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// One kind of secret the scanner can report.
///
/// Each rule has a stable kebab-case id ([`Rule::id`], also its `Display`,
/// `FromStr` and serde form) that allowlists and `--json` output use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A `.env` file shipped in the image (`.env`, `.env.*`, `*.env`).
    DotEnvFile,
    /// A PEM or OpenSSH private key block followed by key material.
    PrivateKey,
    /// An AWS access key id (`AKIA`/`ASIA` and 16 upper-case letters or digits).
    AwsAccessKeyId,
    /// A 40-character AWS secret access key assigned to an AWS-looking name.
    AwsSecretKey,
    /// A Google Cloud service-account key file (JSON with a `private_key`).
    GcpServiceAccount,
    /// An `OpenAI` API key (`sk-...`, `sk-proj-...`).
    OpenAiKey,
    /// An Anthropic API key (`sk-ant-...`).
    AnthropicKey,
    /// A Google (Gemini, Maps, Firebase) API key (`AIza` and 35 characters).
    GoogleApiKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A literal assigned to `JWT_SECRET` or a `*SECRET_KEY` name.
    JwtSecret,
    /// A high-entropy literal assigned to a secret-looking name.
    HighEntropyAssignment,
    /// A URL carrying a password (`scheme://user:password@host`).
    UrlCredentials,
}

impl Rule {
    /// Every rule, in declaration order.
    pub const ALL: [Rule; 12] = [
        Rule::DotEnvFile,
        Rule::PrivateKey,
        Rule::AwsAccessKeyId,
        Rule::AwsSecretKey,
        Rule::GcpServiceAccount,
        Rule::OpenAiKey,
        Rule::AnthropicKey,
        Rule::GoogleApiKey,
        Rule::GithubToken,
        Rule::JwtSecret,
        Rule::HighEntropyAssignment,
        Rule::UrlCredentials,
    ];

    /// The stable kebab-case id, e.g. `"openai-key"`.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Rule::DotEnvFile => "dotenv-file",
            Rule::PrivateKey => "private-key",
            Rule::AwsAccessKeyId => "aws-access-key-id",
            Rule::AwsSecretKey => "aws-secret-key",
            Rule::GcpServiceAccount => "gcp-service-account",
            Rule::OpenAiKey => "openai-key",
            Rule::AnthropicKey => "anthropic-key",
            Rule::GoogleApiKey => "google-api-key",
            Rule::GithubToken => "github-token",
            Rule::JwtSecret => "jwt-secret",
            Rule::HighEntropyAssignment => "high-entropy-assignment",
            Rule::UrlCredentials => "url-credentials",
        }
    }

    /// A short human description, shown after the id in findings.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Rule::DotEnvFile => ".env file",
            Rule::PrivateKey => "private key",
            Rule::AwsAccessKeyId => "AWS access key id",
            Rule::AwsSecretKey => "AWS secret access key",
            Rule::GcpServiceAccount => "Google Cloud service-account key",
            Rule::OpenAiKey => "OpenAI API key",
            Rule::AnthropicKey => "Anthropic API key",
            Rule::GoogleApiKey => "Google API key",
            Rule::GithubToken => "GitHub token",
            Rule::JwtSecret => "JWT signing secret",
            Rule::HighEntropyAssignment => "high-entropy value assigned to a secret-looking name",
            Rule::UrlCredentials => "password in a URL",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Rule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .into_iter()
            .find(|rule| rule.id() == s)
            .ok_or_else(|| Error::UnknownRule(s.to_owned()))
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        id.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
            assert!(seen.insert(rule.id()), "duplicate id {rule}");
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.id()));
            assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), rule);
        }
    }

    #[test]
    fn unknown_id_names_the_valid_ones() {
        let err = "openai".parse::<Rule>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown secret rule `openai`; expected one of: dotenv-file, private-key, \
             aws-access-key-id, aws-secret-key, gcp-service-account, openai-key, anthropic-key, \
             google-api-key, github-token, jwt-secret, high-entropy-assignment, url-credentials"
        );
    }
}

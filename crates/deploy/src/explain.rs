//! `doctor --explain`: the findings and their evidence, redacted, to an
//! OpenAI-compatible chat-completions endpoint, and its answer streamed
//! back.
//!
//! Choices made where the issue is silent:
//!
//! - The endpoint is `OPENAI_BASE_URL` (e.g. `http://127.0.0.1:11434/v1`
//!   for Ollama, `https://api.openai.com/v1`), `POST {base}/chat/completions`
//!   with `stream: true`; `OPENAI_API_KEY` goes in `Authorization: Bearer`
//!   when set (local servers need none). The model is the flag's, else
//!   `OPENAI_MODEL`, else [`DEFAULT_MODEL`]; the model printed is the one
//!   the stream's chunks name (what answered), else the one asked for.
//! - The client is reqwest (already in the tree) with `eventsource-stream`
//!   parsing the Server-Sent Events; no OpenAI SDK, since the request is
//!   one JSON body and the answer `choices[0].delta.content` chunks.
//! - Redaction, before anything is sent, over the whole text of the
//!   message: every value [`crate::DoctorOutcome::redact`] holds (the
//!   stack's and the namespace's Secrets), then per line every token
//!   [`hoist_secrets::value_looks_secret`] flags, then any line
//!   hoist-secrets' scanner still flags is replaced whole.
//! - The request is serialized once; `--dry-run` prints those bytes and a
//!   real run sends them.

use std::time::Duration;

use futures::StreamExt;
use hoist_cluster::doctor::Report;
use serde::Serialize;

use crate::DoctorOutcome;

/// The model asked for when neither the flag nor `OPENAI_MODEL` names one.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// What replaces a token the secret detector flags.
const PLACEHOLDER: &str = "<redacted>";

const SYSTEM: &str = "You are a Kubernetes troubleshooting assistant for hoist, a tool that deploys a multi-service web app (tiers with dependencies, one Helm release per tier) to a local cluster. You get hoist doctor's findings: prerequisite checks, then per tier the object, cause, message, suggested fix and log lines. Explain the most likely root cause first (a dependency's failure explains its dependents'), then give concrete commands to confirm and fix it. Values shown as <redacted> are secrets removed on purpose; do not ask for them.";

/// Where `--explain` sends the findings.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `OPENAI_BASE_URL`, without a trailing slash.
    pub base_url: String,
    /// `OPENAI_API_KEY`, when set.
    pub api_key: Option<String>,
    /// The model asked for.
    pub model: String,
}

impl Endpoint {
    /// From `OPENAI_BASE_URL`, `OPENAI_API_KEY` and (unless `model` is
    /// given) `OPENAI_MODEL` as `var` returns them; `None` without a base URL.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, model: Option<String>) -> Option<Self> {
        let base_url = var("OPENAI_BASE_URL").filter(|v| !v.trim().is_empty())?;
        Some(Self {
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            api_key: var("OPENAI_API_KEY").filter(|v| !v.is_empty()),
            model: model
                .or_else(|| var("OPENAI_MODEL").filter(|v| !v.is_empty()))
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
        })
    }

    /// `{base}/chat/completions`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

/// Why `--explain` got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// The endpoint could not be reached.
    #[error(
        "cannot reach the model endpoint {url}: {reason}; check OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1 for a local Ollama)"
    )]
    Connect {
        /// The URL posted to.
        url: String,
        /// reqwest's reason.
        reason: String,
    },
    /// The endpoint refused the key.
    #[error(
        "the model endpoint {url} refused the request (HTTP {status}): {body}; check OPENAI_API_KEY"
    )]
    Unauthorized {
        /// The URL posted to.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The endpoint answered with another error.
    #[error(
        "the model endpoint {url} answered HTTP {status}: {body}; check OPENAI_MODEL and the server's log"
    )]
    Status {
        /// The URL posted to.
        url: String,
        /// The status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The stream broke or held no answer.
    #[error("the answer stream from {url} broke: {reason}")]
    Stream {
        /// The URL posted to.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// What answered.
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    /// The model the stream named (else the one asked for).
    pub model: String,
    /// The whole answer.
    pub answer: String,
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    stream: bool,
    messages: [Message<'a>; 2],
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: String,
}

/// The request body, serialized: the prerequisite checks that did not
/// pass and every workload finding with its evidence, redacted.
#[must_use]
pub fn request(report: &Report, doctor: Option<&DoctorOutcome>, model: &str) -> String {
    let text = format!(
        "hoist doctor printed this report (prerequisite checks, then per tier its state and each finding with its fix and log lines):\n\n{}",
        crate::render_doctor(report, doctor, None)
    );
    let redact = doctor.map(|d| d.redact.clone()).unwrap_or_default();
    let body = Body {
        model,
        stream: true,
        messages: [
            Message {
                role: "system",
                content: SYSTEM.to_owned(),
            },
            Message {
                role: "user",
                content: redact_text(&redact, &text),
            },
        ],
    };
    serde_json::to_string_pretty(&body).unwrap_or_default()
}

/// `text` with `values` masked, then what hoist-secrets flags.
#[must_use]
pub fn redact_text(values: &[String], text: &str) -> String {
    use std::fmt::Write as _;
    let masked = hoist_cluster::rollout::mask(values, text);
    let scanner = hoist_secrets::Scanner::strict(hoist_secrets::Allowlist::new());
    let mut out = String::with_capacity(masked.len());
    for line in masked.split_inclusive('\n') {
        let (body, end) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let mut cleaned = String::with_capacity(body.len());
        let mut token = String::new();
        let flush = |token: &mut String, cleaned: &mut String| {
            if !token.is_empty() {
                if hoist_secrets::value_looks_secret(token).is_some() {
                    cleaned.push_str(PLACEHOLDER);
                } else {
                    cleaned.push_str(token);
                }
                token.clear();
            }
        };
        for c in body.chars() {
            if c.is_whitespace() || "\"'`,;()[]{}<>".contains(c) {
                flush(&mut token, &mut cleaned);
                cleaned.push(c);
            } else {
                token.push(c);
            }
        }
        flush(&mut token, &mut cleaned);
        match scanner.scan_text("doctor", &cleaned).first() {
            Some(found) => {
                let indent: String = cleaned.chars().take_while(|c| c.is_whitespace()).collect();
                let _ = write!(out, "{indent}<redacted line: {}>", found.rule);
            }
            None => out.push_str(&cleaned),
        }
        out.push_str(end);
    }
    out
}

/// Posts `body` and streams the answer's text to `sink` as it comes.
///
/// # Errors
///
/// [`ExplainError`] when the endpoint cannot be reached, answers an error
/// status, or the stream breaks before an answer.
pub async fn explain(
    endpoint: &Endpoint,
    body: String,
    sink: &mut dyn FnMut(&str),
) -> Result<Explained, ExplainError> {
    hoist_cluster::kubeconfig::install_crypto_provider();
    let url = endpoint.url();
    let connect = |e: &dyn std::fmt::Display| ExplainError::Connect {
        url: url.clone(),
        reason: e.to_string(),
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| connect(&e))?;
    let mut request = client
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(body);
    if let Some(key) = &endpoint.api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|e| connect(&e))?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let text = response.text().await.unwrap_or_default();
        let body: String = text.trim().chars().take(300).collect();
        return Err(if matches!(status, 401 | 403) {
            ExplainError::Unauthorized { url, status, body }
        } else {
            ExplainError::Status { url, status, body }
        });
    }
    let broken = |reason: String| ExplainError::Stream {
        url: url.clone(),
        reason,
    };
    let mut events = eventsource_stream::Eventsource::eventsource(response.bytes_stream());
    let mut model = None;
    let mut answer = String::new();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| broken(e.to_string()))?;
        if event.data.trim() == "[DONE]" {
            break;
        }
        let chunk: serde_json::Value = serde_json::from_str(&event.data)
            .map_err(|e| broken(format!("a chunk is not JSON ({e}): {}", event.data)))?;
        if let Some(error) = chunk.get("error") {
            return Err(broken(format!("the server reported: {error}")));
        }
        if model.is_none() {
            model = chunk["model"].as_str().map(str::to_owned);
        }
        if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str() {
            sink(text);
            answer.push_str(text);
        }
    }
    if answer.is_empty() {
        return Err(broken("it ended without any answer text".to_owned()));
    }
    Ok(Explained {
        model: model.unwrap_or_else(|| endpoint.model.clone()),
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_what_the_detector_flags_never_reach_the_request() {
        let password = hoist_testkit::fake_secret("pg", 20, 1);
        let key = format!("sk-proj-{}", hoist_testkit::fake_secret("Ab9", 40, 2));
        let text = format!(
            "connecting to postgresql://todo:{password}@db:5432/todo failed\nOPENAI_API_KEY={key}\nplain line\n"
        );
        let out = redact_text(std::slice::from_ref(&password), &text);
        assert!(!out.contains(&password), "{out}");
        assert!(!out.contains(&key), "{out}");
        assert!(
            out.contains("postgresql://todo:<redacted>@db:5432/todo failed"),
            "{out}"
        );
        assert!(out.ends_with("plain line\n"), "{out}");
    }

    #[test]
    fn the_endpoint_comes_from_the_variables_and_the_flag_wins() {
        let vars = |name: &str| match name {
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1/".to_owned()),
            "OPENAI_MODEL" => Some("llama3".to_owned()),
            _ => None,
        };
        let e = Endpoint::from_vars(vars, None).unwrap();
        assert_eq!(e.url(), "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(e.model, "llama3");
        assert_eq!(e.api_key, None);
        assert_eq!(
            Endpoint::from_vars(vars, Some("m2".into())).unwrap().model,
            "m2"
        );
        assert!(Endpoint::from_vars(|_| None, None).is_none());
    }
}

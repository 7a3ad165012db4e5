//! `hoist mcp` driven by the official Rust MCP SDK's client over the
//! child's stdio: the tool list with and without `--allow-deploy`, `render`
//! on the copied reference app (no cluster: Secrets redacted, no planted
//! value), a deploy refused without `--allow-deploy`, and on the real test
//! cluster `status`, `findings` and `logs` against an empty namespace of the
//! test's own, each the same document the CLI's `--json` prints.

use std::time::Duration;

use base64::Engine as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::TokioChildProcess;
use rmcp::{ServiceExt as _, model::JsonObject};
use serde_json::{Value, json};

use crate::app::{App, text};

/// The namespace's NodePort range (nothing is deployed; reserved all the same).
const NODE_PORT: u16 = 30096;
/// How long one request may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(120);

/// A `hoist mcp` child and the client session over its stdio.
struct Mcp {
    runtime: tokio::runtime::Runtime,
    client: Option<RunningService<RoleClient, ()>>,
}

impl Mcp {
    /// `hoist --profile e2e mcp ARGS` on `app`'s copy, handshake done.
    fn start(app: &App, args: &[&str]) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut line = vec!["mcp"];
        line.extend_from_slice(args);
        let command = tokio::process::Command::from(app.command(&line));
        let client = runtime.block_on(async {
            let transport = TokioChildProcess::new(command).unwrap();
            tokio::time::timeout(PATIENCE, ().serve(transport))
                .await
                .expect("hoist mcp answers the handshake")
                .expect("the MCP handshake succeeds")
        });
        Self {
            runtime,
            client: Some(client),
        }
    }

    fn client(&self) -> &RunningService<RoleClient, ()> {
        self.client.as_ref().unwrap()
    }

    /// The listed tools' names.
    fn tools(&self) -> Vec<String> {
        let tools = self.runtime.block_on(async {
            tokio::time::timeout(PATIENCE, self.client().list_all_tools())
                .await
                .expect("tools/list answered")
                .expect("tools/list succeeds")
        });
        tools.into_iter().map(|t| t.name.into_owned()).collect()
    }

    /// `tools/call NAME ARGS`.
    fn call(&self, name: &str, args: Value) -> Result<CallToolResult, ServiceError> {
        let Value::Object(args) = args else {
            panic!("arguments are an object")
        };
        let params =
            CallToolRequestParams::new(name.to_owned()).with_arguments(JsonObject::from(args));
        self.runtime.block_on(async {
            tokio::time::timeout(PATIENCE, self.client().call_tool(params))
                .await
                .unwrap_or_else(|_| panic!("tools/call {name} answered"))
        })
    }

    /// `tools/call NAME ARGS` that succeeds: its text, checked clean of
    /// `app`'s planted secrets, parsed as JSON.
    fn document(&self, app: &App, name: &str, args: Value) -> Value {
        let (failed, body) = self.result(app, name, args);
        assert!(!failed, "{name} is an error: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{name} returned no JSON ({e}): {body}"))
    }

    /// `tools/call NAME ARGS` that hoist fails (a tool result with
    /// `isError`, not a protocol error): its text.
    fn document_error(&self, app: &App, name: &str, args: Value) -> String {
        let (failed, body) = self.result(app, name, args);
        assert!(failed, "{name} succeeded: {body}");
        body
    }

    /// Whether the call's result is an error, and its text, checked clean
    /// of `app`'s planted secrets.
    fn result(&self, app: &App, name: &str, args: Value) -> (bool, String) {
        let result = self
            .call(name, args)
            .unwrap_or_else(|e| panic!("tools/call {name} failed: {e}"));
        let body: String = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect();
        for secret in &app.planted {
            assert!(
                !body.contains(secret.as_str()),
                "a planted secret value is in {name}'s result"
            );
        }
        (result.is_error == Some(true), body)
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.cancel()).await
            });
        }
    }
}

const READ_ONLY: [&str; 4] = ["status", "findings", "logs", "render"];

#[test]
fn lists_read_only_tools_renders_with_secrets_redacted_and_refuses_a_deploy() {
    let app = App::new("mcp-render", NODE_PORT, None);
    // As DEPLOYMENT.md's client configuration starts it.
    let stack = app.stack_file();
    let mcp = Mcp::start(&app, &["--file", stack.to_str().unwrap()]);
    assert_eq!(mcp.tools(), READ_ONLY);

    let list = mcp.document(&app, "render", json!({}));
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    let secrets: Vec<&Value> = items.iter().filter(|o| o["kind"] == "Secret").collect();
    let mut redacted = 0;
    for secret in secrets {
        assert!(secret["data"].is_null(), "{secret}");
        for value in secret["stringData"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            assert_eq!(value, hoist_config::REDACTED, "{secret}");
            redacted += 1;
        }
    }
    assert!(redacted > 0, "no Secret value rendered (redacted): {list}");
    // The control: the same render with --show-secrets holds a planted value,
    // so its absence above is the redaction's doing.
    let shown = app.hoist(&["--json", "render", "--show-secrets"]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let values: Vec<String> = shown["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "Secret")
        .filter_map(|o| o["data"].as_object())
        .flat_map(|data| data.values())
        .map(|v| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap();
            String::from_utf8(bytes).unwrap()
        })
        .collect();
    assert!(
        values.iter().any(|v| v.contains(app.planted[0].as_str())),
        "hoist render --show-secrets holds the planted password"
    );
    assert!(
        items.iter().any(|o| o["kind"] == "Deployment"),
        "the charts' objects are rendered too: {list}"
    );
    let database = mcp.document(&app, "render", json!({ "service": "database" }));
    assert!(
        database["items"].as_array().unwrap().len() < items.len(),
        "only the database's objects: {database}"
    );

    for tool in ["up", "rollback"] {
        let refused = mcp.call(tool, json!({})).unwrap_err();
        let ServiceError::McpError(error) = refused else {
            panic!("{tool}: not an MCP error: {refused}")
        };
        assert!(
            error
                .message
                .contains("start hoist mcp with --allow-deploy"),
            "{tool}: {}",
            error.message
        );
    }
    drop(mcp);

    let deploying = Mcp::start(&app, &["--allow-deploy"]);
    let mut expected: Vec<&str> = READ_ONLY.to_vec();
    expected.extend(["up", "rollback"]);
    assert_eq!(deploying.tools(), expected);
}

/// Deletes the test's namespace at the end, whatever the outcome.
struct Namespace<'a>(&'a App);

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .kubectl(&["delete", "namespace", &self.0.namespace, "--wait=false"]);
    }
}

#[test]
fn status_findings_and_logs_on_the_real_cluster_match_the_cli() {
    let Some(kubeconfig) = hoist_testkit::service_path(hoist_testkit::KUBECONFIG) else {
        return;
    };
    let app = App::new("mcp", NODE_PORT, Some(kubeconfig));
    let created = app.kubectl(&["create", "namespace", &app.namespace]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let _namespace = Namespace(&app);

    let mcp = Mcp::start(&app, &[]);
    let status = mcp.document(&app, "status", json!({}));
    assert_eq!(status["namespace"], app.namespace.as_str(), "{status}");
    let rows = status["services"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{status}");
    for row in rows {
        assert!(row["revision"].is_null(), "nothing is installed: {status}");
    }
    let (_, cli) = app.hoist_json(&["status"]);
    assert_eq!(status, cli, "status is `hoist status --json`");

    // Nothing installed: one "not installed" error per tier. The node's
    // findings (conditions, capacity) are left out of the comparisons: the
    // cluster is shared, and they may change between two calls.
    let findings = mcp.document(&app, "findings", json!({}));
    assert_eq!(findings["namespace"], app.namespace.as_str(), "{findings}");
    let stack_findings = |doc: &Value| -> Vec<Value> {
        doc["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no findings array: {doc}"))
            .iter()
            .filter(|f| f["cause"] != "node-condition" && f["cause"] != "capacity")
            .cloned()
            .collect()
    };
    let mine = stack_findings(&findings);
    let objects: Vec<&str> = mine.iter().filter_map(|f| f["object"].as_str()).collect();
    assert_eq!(
        objects,
        [
            "release/todo-chatbot-database",
            "release/todo-chatbot-backend",
            "release/todo-chatbot-frontend"
        ],
        "{findings}"
    );
    for finding in &mine {
        assert_eq!(finding["severity"], "error", "{finding}");
        assert!(
            finding["message"]
                .as_str()
                .is_some_and(|m| m.contains("is not installed")),
            "{finding}"
        );
    }
    let (_, doctor) = app.hoist_json(&["doctor"]);
    let workloads = &doctor["workloads"];
    assert_eq!(
        mine,
        stack_findings(workloads),
        "findings are `hoist doctor --json`'s"
    );
    for key in ["project", "namespace", "context", "tiers"] {
        assert_eq!(findings[key], workloads[key], "{key}");
    }

    let logs = mcp.document(&app, "logs", json!({ "service": "backend", "tail": 5 }));
    assert_eq!(logs["namespace"], app.namespace.as_str(), "{logs}");
    assert_eq!(logs["streams"], json!([]), "no pods: {logs}");
    assert_eq!(logs["lines"], json!([]), "{logs}");

    let unknown = mcp.document_error(&app, "logs", json!({ "service": "nonesuch" }));
    assert!(unknown.contains("nonesuch"), "{unknown}");

    let refused = mcp.call("up", json!({})).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("start hoist mcp with --allow-deploy"),
        "{refused}"
    );
    drop(mcp);
    let deploying = Mcp::start(&app, &["--allow-deploy"]);
    assert!(deploying.tools().iter().any(|t| t == "up"));
}

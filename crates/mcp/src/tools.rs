//! The tools: their list, their arguments, and each call mapped onto one
//! hoist-deploy entry point.

use std::sync::Mutex;

use hoist_config::Stack;
use hoist_deploy::{
    DoctorOptions, LogLine, LogSink, LogsOptions, NoReporter, RenderOnly, RenderOptions,
    RollbackOptions, StatusOptions, UpOptions,
};
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool, ToolAnnotations,
};
use rmcp::schemars::JsonSchema;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Options;

/// What a client is told when it calls `up` or `rollback` on a server
/// started without `--allow-deploy`.
pub const DEPLOY_REFUSED: &str = "this tool changes the cluster, and this server is read-only: start hoist mcp with --allow-deploy to offer up and rollback";

/// Lines per container `logs` returns when the call names no `tail`.
const DEFAULT_TAIL: i64 = 100;

/// The tools that only read.
const READ_ONLY: &[&str] = &["status", "findings", "logs", "render"];
/// The tools `--allow-deploy` adds.
const DEPLOY: &[&str] = &["up", "rollback"];

/// `status`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct StatusArgs {
    /// Only these services (default: every service of the stack).
    #[serde(default)]
    services: Vec<String>,
}

/// `findings`' arguments: none.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct NoArgs {}

/// `logs`' arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct LogsArgs {
    /// The service whose pods' logs to read.
    service: String,
    /// The last lines of each container (default 100).
    tail: Option<i64>,
}

/// `render`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct RenderArgs {
    /// Only this service (and what it depends on); default: the whole stack.
    service: Option<String>,
}

/// `up`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct UpArgs {
    /// Only these services and what they depend on (default: the whole stack).
    #[serde(default)]
    services: Vec<String>,
}

/// `rollback`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct RollbackArgs {
    /// The service to roll back (default: every service).
    service: Option<String>,
    /// The Helm revision to go back to (default: the previous one).
    to: Option<u32>,
}

/// The MCP server: hoist's tools over one stack.
pub struct Server {
    options: Options,
}

impl Server {
    /// A server over `options`' stack and cluster.
    #[must_use]
    pub fn new(options: Options) -> Self {
        Self { options }
    }

    /// The tools this server offers.
    #[must_use]
    pub fn tools(&self) -> Vec<Tool> {
        let read = ToolAnnotations::new().read_only(true);
        let mut tools = vec![
            Tool::new(
                "status",
                "Per service of the hoist stack: Helm release revision and status, image, ready/desired pods, restarts, age, URL (what `hoist status --json` prints).",
                schema_for_type::<StatusArgs>(),
            )
            .with_annotations(read.clone()),
            Tool::new(
                "findings",
                "hoist doctor's workload checks on the deployed stack: each finding with its tier, object, cause, fix and log tail (secret values masked), plus each tier's readiness.",
                schema_for_type::<NoArgs>(),
            )
            .with_annotations(read.clone()),
            Tool::new(
                "logs",
                "The recent log lines of every pod of one service, secret values masked (no follow).",
                schema_for_type::<LogsArgs>(),
            )
            .with_annotations(read.clone()),
            Tool::new(
                "render",
                "Everything `hoist up` would apply, as a JSON List: each service's ConfigMap and Secret (values redacted) and its chart's objects.",
                schema_for_type::<RenderArgs>(),
            )
            .with_annotations(read),
        ];
        if self.options.allow_deploy {
            tools.push(
                Tool::new(
                    "up",
                    "Build, deliver, configure and roll out the stack (or the named services and what they depend on), rolling back a tier that does not get Ready; returns the outcome with the findings.",
                    schema_for_type::<UpArgs>(),
                )
                .with_annotations(ToolAnnotations::new().read_only(false).destructive(false)),
            );
            tools.push(
                Tool::new(
                    "rollback",
                    "Roll a service (or every service) back to its previous Helm revision, or to `to`, waiting for readiness.",
                    schema_for_type::<RollbackArgs>(),
                )
                .with_annotations(ToolAnnotations::new().read_only(false).destructive(true)),
            );
        }
        tools
    }

    async fn call(&self, name: &str, args: serde_json::Value) -> Result<CallToolResult, ErrorData> {
        if DEPLOY.contains(&name) && !self.options.allow_deploy {
            return Err(ErrorData::invalid_request(
                format!("{name}: {DEPLOY_REFUSED}"),
                None,
            ));
        }
        if !READ_ONLY.contains(&name) && !DEPLOY.contains(&name) {
            return Err(ErrorData::invalid_params(
                format!(
                    "no tool named {name:?}; the tools are {}",
                    self.tools()
                        .iter()
                        .map(|t| t.name.as_ref())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ));
        }
        let stack = match (self.options.stack)() {
            Ok(stack) => stack,
            Err(error) => return Ok(failure("failed to load the stack file", &error)),
        };
        let o = &self.options;
        let document = match name {
            "status" => {
                let args: StatusArgs = parse(name, args)?;
                let options = StatusOptions {
                    services: args.services,
                    cluster: o.cluster.clone(),
                };
                json(hoist_deploy::status(&stack, &options).await)
            }
            "findings" => {
                let _: NoArgs = parse(name, args)?;
                let options = DoctorOptions {
                    namespace: None,
                    env: o.env.clone(),
                    cluster: o.cluster.clone(),
                };
                json(hoist_deploy::doctor(Some(&stack), &options).await)
            }
            "logs" => self.logs(&stack, parse(name, args)?).await,
            "render" => {
                let args: RenderArgs = parse(name, args)?;
                let options = RenderOptions {
                    services: args.service.into_iter().collect(),
                    only: RenderOnly::All,
                    show_secrets: false,
                    env: o.env.clone(),
                    registry: None,
                    environment: None,
                };
                json(hoist_deploy::render(&stack, &options).await.map(|objects| {
                    let items: Vec<_> = objects.into_iter().map(|o| o.object).collect();
                    serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items })
                }))
            }
            "up" => {
                let args: UpArgs = parse(name, args)?;
                let options = UpOptions {
                    services: args.services,
                    only: false,
                    env: o.env.clone(),
                    cluster: o.cluster.clone(),
                    build: o.build.clone(),
                    rollback: true,
                    interrupt: None,
                };
                json(hoist_deploy::up(&stack, &options, &NoReporter).await)
            }
            _ => {
                let args: RollbackArgs = parse(name, args)?;
                let options = RollbackOptions {
                    service: args.service,
                    to: args.to,
                    env: o.env.clone(),
                    cluster: o.cluster.clone(),
                };
                json(hoist_deploy::rollback(&stack, &options, &NoReporter).await)
            }
        };
        Ok(match document {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(error) => failure(&format!("hoist {name} failed"), &error),
        })
    }

    /// The last lines of `args.service`'s containers, as one document.
    async fn logs(&self, stack: &Stack, args: LogsArgs) -> Result<String, hoist_deploy::Error> {
        let options = LogsOptions {
            service: Some(args.service),
            follow: false,
            since: None,
            tail: Some(args.tail.unwrap_or(DEFAULT_TAIL).max(1)),
            env: self.options.env.clone(),
            cluster: self.options.cluster.clone(),
        };
        let sink = Collect::default();
        let outcome = hoist_deploy::logs(stack, &options, &sink).await?;
        let lines = sink.lines.into_inner().unwrap_or_default();
        Ok(to_text(&serde_json::json!({
            "namespace": stack.namespace,
            "streams": outcome.streams,
            "lines": lines,
        })))
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("hoist", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "hoist's view of one stack on Kubernetes: `status` and `findings` first, then `logs` of the service a finding names; `render` shows what hoist applies. `up` and `rollback` exist only when the server was started with --allow-deploy.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        self.call(&request.name, args).await.map(Into::into)
    }
}

/// Collects `logs`' lines.
#[derive(Default)]
struct Collect {
    lines: Mutex<Vec<LogLine>>,
}

impl LogSink for Collect {
    fn on_line(&self, line: &LogLine) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line.clone());
        }
    }
}

fn parse<T: DeserializeOwned>(tool: &str, args: serde_json::Value) -> Result<T, ErrorData> {
    serde_json::from_value(args).map_err(|error| {
        ErrorData::invalid_params(
            format!("{tool}: bad arguments: {error}; see the tool's input schema"),
            None,
        )
    })
}

fn json<T: serde::Serialize>(
    result: Result<T, hoist_deploy::Error>,
) -> Result<String, hoist_deploy::Error> {
    result.map(|value| to_text(&value))
}

fn to_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A tool-level failure: the context, then the error and its causes.
fn failure(context: &str, error: &dyn std::error::Error) -> CallToolResult {
    let mut text = format!("{context}: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

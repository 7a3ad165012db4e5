//! `hoist logs [SERVICE] [-f] [--since]`: every pod's lines, prefixed with
//! `pod/container`; with `--json`, one JSON object per line.

use std::io::Write as _;
use std::process::ExitCode;

use hoist_deploy::{LogLine, LogSink, LogsOptions};

use crate::cli::{Global, LogsArgs};
use crate::deploy;

struct Printer {
    json: bool,
}

impl LogSink for Printer {
    fn on_line(&self, line: &LogLine) {
        let mut stdout = std::io::stdout().lock();
        let _ = if self.json {
            writeln!(
                stdout,
                "{}",
                serde_json::to_string(line).unwrap_or_default()
            )
        } else {
            writeln!(stdout, "{}/{} {}", line.pod, line.container, line.line)
        };
    }
}

pub(crate) async fn run(global: &Global, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let stack = match deploy::stack(global) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let options = LogsOptions {
        service: args.service.clone(),
        follow: args.follow,
        since: args.since,
        tail: args.tail,
        env: deploy::env_inputs(&args.env),
        cluster: deploy::cluster(&args.cluster, None),
    };
    if super::engine::docker(&stack, &args.engine) {
        return super::engine::logs(global, &stack, &options).await;
    }
    let printer = Printer { json: global.json };
    match hoist_deploy::logs(&stack, &options, &printer).await {
        Ok(outcome) => {
            if outcome.streams.is_empty() && !global.json {
                eprintln!(
                    "no pods of {} in namespace {}; deploy with `hoist up`",
                    args.service.as_deref().unwrap_or("any service"),
                    stack.namespace
                );
            }
            Ok(ExitCode::from(crate::exit::SUCCESS))
        }
        Err(error) => Ok(deploy::fail(error, "hoist logs failed")),
    }
}

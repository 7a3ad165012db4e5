//! The stack's resource use from the kubelet's `/stats/summary` (CPU in
//! nanocores, working-set memory in bytes, per container), and the pods'
//! requests, limits and restart counts from their specs and statuses.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;
use serde_json::Value;

/// A container's peak use over the samples.
#[derive(Debug, Default, Clone, Copy)]
struct Peak {
    millicores: f64,
    bytes: u64,
}

/// Peaks by `pod/container`.
#[derive(Debug, Default)]
pub(crate) struct Peaks {
    by_container: BTreeMap<String, Peak>,
    samples: usize,
}

/// A container's requests and limits, as written in its spec.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    cpu_request: String,
    cpu_limit: String,
    memory_request: String,
    memory_limit: String,
}

impl Peaks {
    /// Folds one `/stats/summary` document in (the pods of `namespace`).
    pub(crate) fn sample(&mut self, summary: &str, namespace: &str) -> anyhow::Result<()> {
        let summary: Value =
            serde_json::from_str(summary).context("the kubelet's /stats/summary")?;
        for pod in summary["pods"].as_array().into_iter().flatten() {
            if pod["podRef"]["namespace"] != namespace {
                continue;
            }
            let name = pod["podRef"]["name"].as_str().unwrap_or_default();
            for container in pod["containers"].as_array().into_iter().flatten() {
                let key = format!("{name}/{}", container["name"].as_str().unwrap_or_default());
                let peak = self.by_container.entry(key).or_default();
                if let Some(n) = container["cpu"]["usageNanoCores"].as_u64() {
                    peak.millicores = peak.millicores.max(n as f64 / 1e6);
                }
                if let Some(b) = container["memory"]["workingSetBytes"].as_u64() {
                    peak.bytes = peak.bytes.max(b);
                }
            }
        }
        self.samples += 1;
        Ok(())
    }

    /// The Markdown table: peaks against requests and limits.
    pub(crate) fn table(&self, resources: &BTreeMap<String, Resources>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| pod/container | peak CPU | CPU request / limit | peak memory (working set) | memory request / limit |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        let none = Resources::default();
        for (key, peak) in &self.by_container {
            let r = resources.get(key).unwrap_or(&none);
            let _ = writeln!(
                out,
                "| {key} | {:.0}m | {} / {} | {:.0} MiB | {} / {} |",
                peak.millicores,
                r.cpu_request,
                r.cpu_limit,
                peak.bytes as f64 / f64::from(1 << 20),
                r.memory_request,
                r.memory_limit
            );
        }
        let _ = writeln!(
            out,
            "\n({} samples of the kubelet's /stats/summary, one every 2 s)",
            self.samples
        );
        out
    }
}

fn pods(pods_json: &str) -> anyhow::Result<Vec<Value>> {
    let list: Value = serde_json::from_str(pods_json).context("kubectl get pods -o json")?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// Restart counts by `pod/container`.
pub(crate) fn restarts(pods_json: &str) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    for pod in pods(pods_json)? {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        for status in pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            counts.insert(
                format!("{name}/{}", status["name"].as_str().unwrap_or_default()),
                status["restartCount"].as_i64().unwrap_or(0),
            );
        }
    }
    Ok(counts)
}

/// Requests and limits by `pod/container`.
pub(crate) fn resources(pods_json: &str) -> anyhow::Result<BTreeMap<String, Resources>> {
    let mut by_container = BTreeMap::new();
    for pod in pods(pods_json)? {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
            let r = &container["resources"];
            let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            by_container.insert(
                format!("{name}/{}", container["name"].as_str().unwrap_or_default()),
                Resources {
                    cpu_request: text(&r["requests"]["cpu"]),
                    cpu_limit: text(&r["limits"]["cpu"]),
                    memory_request: text(&r["requests"]["memory"]),
                    memory_limit: text(&r["limits"]["memory"]),
                },
            );
        }
    }
    Ok(by_container)
}

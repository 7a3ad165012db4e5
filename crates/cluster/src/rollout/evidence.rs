//! The evidence of a failed rollout, kept before anything is rolled back:
//! pod statuses, events, findings and log tails, as JSON in
//! `<state_dir>/runs/<run id>/report.json`, with every value of the
//! stack's Secrets masked.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use serde::Serialize;

use super::error::RolloutError;
use super::outcome::{Finding, ServiceOutcome};

/// What replaces a secret value.
pub(crate) const MASK: &str = "<redacted>";

/// Masks the stack's secret values in text.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    /// Longest first, so a value containing another is masked whole.
    values: Vec<String>,
}

impl Redactor {
    pub(crate) fn new(values: &[String]) -> Self {
        let mut values: Vec<String> = values.iter().filter(|v| !v.is_empty()).cloned().collect();
        // A value as it appears inside JSON text too.
        let escaped: Vec<String> = values
            .iter()
            .filter_map(|v| {
                let json = serde_json::to_string(v).ok()?;
                let inner = json[1..json.len() - 1].to_owned();
                (inner != *v).then_some(inner)
            })
            .collect();
        values.extend(escaped);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self { values }
    }

    pub(crate) fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    pub(crate) fn finding(&self, mut f: Finding) -> Finding {
        f.message = self.mask(&f.message);
        f.fix = f.fix.map(|t| self.mask(&t));
        f.logs = f.logs.iter().map(|l| self.mask(l)).collect();
        f
    }
}

/// A pod as the report keeps it.
#[derive(Debug, Clone, Serialize)]
struct PodRecord {
    service: String,
    name: String,
    status: Option<k8s_openapi::api::core::v1::PodStatus>,
}

/// An event as the report keeps it.
#[derive(Debug, Clone, Serialize)]
struct EventRecord {
    service: String,
    object: String,
    #[serde(rename = "type")]
    type_: Option<String>,
    reason: Option<String>,
    message: Option<String>,
    count: Option<i32>,
    last_seen: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    run_id: String,
    project: String,
    namespace: String,
    written_at: String,
    succeeded: Option<bool>,
    services: Vec<ServiceOutcome>,
    findings: Vec<Finding>,
    pods: Vec<PodRecord>,
    events: Vec<EventRecord>,
}

/// The run's report, shared by the services rolling out in parallel.
#[derive(Clone)]
pub(crate) struct Evidence {
    path: PathBuf,
    redactor: Redactor,
    report: Arc<Mutex<Report>>,
}

impl Evidence {
    pub(crate) fn new(
        state_dir: &Path,
        run_id: &str,
        project: &str,
        namespace: &str,
        redactor: Redactor,
    ) -> Self {
        Self {
            path: state_dir.join("runs").join(run_id).join("report.json"),
            redactor,
            report: Arc::new(Mutex::new(Report {
                run_id: run_id.to_owned(),
                project: project.to_owned(),
                namespace: namespace.to_owned(),
                ..Report::default()
            })),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a failed service's findings, pods and events, and writes the file.
    pub(crate) fn add(
        &self,
        service: &str,
        findings: &[Finding],
        pods: &[Arc<Pod>],
        events: &[Arc<Event>],
    ) -> Result<(), RolloutError> {
        {
            let mut report = self
                .report
                .lock()
                .expect("the report lock is never poisoned");
            report.findings.extend(findings.iter().cloned());
            report.pods.extend(pods.iter().map(|p| PodRecord {
                service: service.to_owned(),
                name: p.name_any(),
                status: p.status.clone(),
            }));
            report.events.extend(events.iter().map(|e| EventRecord {
                service: service.to_owned(),
                object: format!(
                    "{}/{}",
                    e.involved_object.kind.as_deref().unwrap_or("?"),
                    e.involved_object.name.as_deref().unwrap_or("?")
                ),
                type_: e.type_.clone(),
                reason: e.reason.clone(),
                message: e.message.clone(),
                count: e.count,
                last_seen: event_time(e),
            }));
        }
        self.write(None, None)
    }

    /// Writes the file (again), with the outcomes when the run is over.
    pub(crate) fn write(
        &self,
        succeeded: Option<bool>,
        services: Option<&[ServiceOutcome]>,
    ) -> Result<(), RolloutError> {
        let text = {
            let mut report = self
                .report
                .lock()
                .expect("the report lock is never poisoned");
            report.written_at = k8s_openapi::jiff::Timestamp::now().to_string();
            if let Some(s) = succeeded {
                report.succeeded = Some(s);
            }
            if let Some(services) = services {
                report.services = services.to_vec();
            }
            serde_json::to_string_pretty(&*report).expect("a report always serializes")
        };
        let text = self.redactor.mask(&text);
        let failed = |source| RolloutError::Report {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .expect("runs/<id>/report.json has a parent");
        std::fs::create_dir_all(dir).map_err(failed)?;
        let partial = dir.join("report.json.partial");
        std::fs::write(&partial, text).map_err(failed)?;
        std::fs::rename(&partial, &self.path).map_err(failed)
    }
}

/// When an event was last seen, as the API gives it.
pub(crate) fn event_time(e: &Event) -> Option<String> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            e.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked_raw_and_json_escaped() {
        let r = Redactor::new(&["s3cr\"et".to_owned(), "s3cr".to_owned(), String::new()]);
        assert_eq!(r.mask("a s3cr\"et b s3cr"), "a <redacted> b <redacted>");
        let json = serde_json::to_string("x s3cr\"et").unwrap();
        assert_eq!(r.mask(&json), "\"x <redacted>\"");
    }

    #[test]
    fn the_report_file_holds_no_secret_value() {
        let dir = tempfile::tempdir().unwrap();
        let secret = hoist_testkit::fake_secret("pw-", 20, 7);
        let evidence = Evidence::new(
            dir.path(),
            "run1",
            "demo",
            "ns",
            Redactor::new(std::slice::from_ref(&secret)),
        );
        let finding = Finding {
            service: "api".into(),
            object: "Pod/api-1".into(),
            pod: Some("api-1".into()),
            container: Some("api".into()),
            cause: super::super::Cause::CrashLoop,
            message: format!("bad password {secret}"),
            fix: None,
            logs: vec![format!("connecting with {secret}")],
        };
        evidence.add("api", &[finding], &[], &[]).unwrap();
        let text = std::fs::read_to_string(dir.path().join("runs/run1/report.json")).unwrap();
        assert!(!text.contains(&secret), "{text}");
        assert!(text.contains("connecting with <redacted>"), "{text}");
    }
}

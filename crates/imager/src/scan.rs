//! The secret scan, run before anything is written: every file the recipe
//! adds, every file of every base layer (a file a later layer deletes still
//! ships in its blob), and the config's Env, Labels and history.
//!
//! A base layer is scanned once per machine, when it is imported, with no
//! allowlist but the defaults; its findings are kept with its import record
//! and each recipe's allowlist is applied to them, so recipes and services
//! sharing a base never read it again. A recipe layer is scanned in the same
//! read that packs it; clean results are remembered per layer and allowlist,
//! so a warm build reads no file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hoist_secrets::{Allowlist, Finding, Scanner};
use serde::{Deserialize, Serialize};

use crate::base::BaseImage;
use crate::build::Work;
use crate::digest::KeyHasher;
use crate::layer::Walked;
use crate::recipe::{Recipe, RecipeError};
use crate::{Error, Result};

/// A PEM marker inside a system binary of a base image is the TLS library's
/// own parser constant (libgnutls, libssl, node), not a key: base layers skip
/// whole-file private-key findings (no line: binary content) under the
/// system's program and library directories. Text files there, and every
/// file the recipe adds, are still reported.
fn system_binary(finding: &Finding) -> bool {
    const SYSTEM: [&str; 7] = [
        "/usr/lib/",
        "/usr/bin/",
        "/usr/sbin/",
        "/usr/libexec/",
        "/lib/",
        "/bin/",
        "/sbin/",
    ];
    finding.line.is_none()
        && finding.rule == hoist_secrets::Rule::PrivateKey
        && SYSTEM.iter().any(|dir| finding.path.starts_with(dir))
}

/// Secrets found in what the image would hold.
#[derive(Debug, thiserror::Error)]
#[error(
    "secrets found; nothing was written:\n{}\nremove them from the image, or accept a false positive in the recipe with `secrets.allow = [{{ path = \"/the/path\", rule = \"rule-id\" }}]`",
    .findings.iter().map(|(place, f)| format!("  {place}: {f}")).collect::<Vec<_>>().join("\n")
)]
pub struct SecretsFound {
    /// Where (layer or config) and the finding (path, line, rule; never the value).
    pub findings: Vec<(String, Finding)>,
}

pub(crate) struct Scan {
    scanner: Scanner,
    allowlist: Allowlist,
    key: String,
    findings: Vec<(String, Finding)>,
}

/// A finding in a base layer as its import record keeps it (before any
/// recipe's allowlist; never the value).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct BaseFinding {
    path: String,
    line: Option<usize>,
    rule: String,
}

/// The scanner a base layer is read with at import: the default skips only.
pub(crate) fn base_scanner() -> Scanner {
    Scanner::new(Allowlist::new())
}

/// Keeps what a base layer's scan found (system binaries' PEM constants left out).
pub(crate) fn keep(found: Vec<Finding>) -> Vec<BaseFinding> {
    found
        .into_iter()
        .filter(|f| !system_binary(f))
        .map(|f| BaseFinding {
            path: f.path,
            line: f.line,
            rule: f.rule.id().to_owned(),
        })
        .collect()
}

impl Scan {
    pub(crate) fn new(recipe: &Recipe) -> Result<Self> {
        let allow = toml::Value::Array(recipe.secrets.allow.clone());
        let allowlist = Allowlist::deserialize(allow.clone())
            .map_err(|e| RecipeError::Parse(format!("secrets.allow: {}", e.message())))?;
        let mut key = KeyHasher::new("hoist-scan-v1");
        key.field(env!("CARGO_PKG_VERSION").as_bytes())
            .field(allow.to_string().as_bytes());
        Ok(Self {
            scanner: Scanner::new(allowlist.clone()),
            allowlist,
            key: key.finish(),
            findings: Vec::new(),
        })
    }

    /// Identifies the scanner and allowlist a clean result holds for.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The scanner with the recipe's allowlist, for packing.
    pub(crate) fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// Applies the recipe's allowlist to what each base layer's import scan found.
    pub(crate) fn base_layers(&mut self, base: &BaseImage) {
        for (i, layer) in base.layers.iter().enumerate() {
            let place = format!("base layer {}", i + 1);
            for found in &layer.findings {
                let Ok(rule) = found.rule.parse() else {
                    continue;
                };
                let finding = Finding {
                    path: found.path.clone(),
                    line: found.line,
                    rule,
                };
                if !self.allowlist.permits(&finding) {
                    self.findings.push((place.clone(), finding));
                }
            }
        }
    }

    /// Adds what packing recipe layer `layer` found.
    pub(crate) fn found_in_layer(&mut self, layer: &str, found: Vec<Finding>) {
        self.findings
            .extend(found.into_iter().map(|f| (format!("layer {layer}"), f)));
    }

    /// Reads every host file a recipe layer adds.
    pub(crate) fn host_files(
        &mut self,
        layer: &str,
        walked: &Walked,
        work: &mut Work,
    ) -> Result<()> {
        for (image_path, host, _) in walked.files() {
            let file = File::open(host).map_err(|e| Error::io("read", host, e))?;
            work.files_scanned += 1;
            work.files_read += 1;
            let found = self
                .scanner
                .scan_reader(&format!("/{image_path}"), BufReader::new(file))
                .map_err(|e| Error::io("scan", host, e))?;
            self.findings
                .extend(found.into_iter().map(|f| (format!("layer {layer}"), f)));
        }
        Ok(())
    }

    /// Scans the config's Env, Labels and history.
    pub(crate) fn config(&mut self, config_json: &[u8]) -> Result<()> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "PascalCase")]
        struct Inner {
            #[serde(default)]
            env: Vec<String>,
            #[serde(default)]
            labels: BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        struct History {
            #[serde(default)]
            created_by: Option<String>,
            #[serde(default)]
            comment: Option<String>,
        }
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            config: Option<Inner>,
            #[serde(default)]
            history: Vec<History>,
        }
        let config: Config = serde_json::from_slice(config_json)
            .map_err(|e| Error::io("scan", Path::new("config"), e.into()))?;
        let inner = config.config.unwrap_or_default();
        let mut found = self.scanner.scan_env("config.Env", &inner.env);
        found.extend(self.scanner.scan_labels("config.Labels", &inner.labels));
        for (i, entry) in config.history.iter().enumerate() {
            for (field, text) in [
                ("created_by", &entry.created_by),
                ("comment", &entry.comment),
            ] {
                if let Some(text) = text {
                    found.extend(
                        self.scanner
                            .scan_text(&format!("history[{i}].{field}"), text),
                    );
                }
            }
        }
        self.findings
            .extend(found.into_iter().map(|f| ("image config".to_owned(), f)));
        Ok(())
    }

    /// Fails when anything was found.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.findings.is_empty() {
            return Ok(());
        }
        Err(SecretsFound {
            findings: std::mem::take(&mut self.findings),
        }
        .into())
    }
}

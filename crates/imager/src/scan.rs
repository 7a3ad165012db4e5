//! The secret scan, run before anything is written: every file the recipe
//! adds, every file of every base layer (a file a later layer deletes still
//! ships in its blob), and the config's Env, Labels and history. Clean
//! results are remembered per layer and allowlist, so a warm build reads no
//! file twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hoist_secrets::{Allowlist, Finding, Scanner};
use serde::Deserialize;

use crate::base::{BaseImage, inspect_blob};
use crate::build::Work;
use crate::cache::Cache;
use crate::digest::{KeyHasher, hex_part};
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
    key: String,
    findings: Vec<(String, Finding)>,
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
            scanner: Scanner::new(allowlist),
            key: key.finish(),
            findings: Vec::new(),
        })
    }

    /// Identifies the scanner and allowlist a clean result holds for.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    fn marker(&self, digest: &str) -> String {
        format!("{}-{}", hex_part(digest), &self.key[..16])
    }

    /// Reads every base layer not yet cleared under this allowlist.
    pub(crate) fn base_layers(
        &mut self,
        base: &BaseImage,
        cache: &Cache,
        work: &mut Work,
    ) -> Result<()> {
        for (i, layer) in base.layers.iter().enumerate() {
            let marker = self.marker(&layer.packed.digest);
            if cache.marked("scanned", &marker) {
                continue;
            }
            let place = format!("base layer {}", i + 1);
            let before = self.findings.len();
            let scanner = &self.scanner;
            let findings = &mut self.findings;
            let p = &layer.packed;
            inspect_blob(
                cache.store(),
                &place,
                &p.digest,
                p.size,
                &p.media_type,
                &mut |entry, data| {
                    if entry.is_content {
                        work.files_scanned += 1;
                        let found = scanner
                            .scan_reader(&format!("/{}", entry.path), data)
                            .map_err(|e| Error::io("scan", Path::new(entry.path), e))?;
                        findings.extend(
                            found
                                .into_iter()
                                .filter(|f| !system_binary(f))
                                .map(|f| (place.clone(), f)),
                        );
                    }
                    Ok(())
                },
            )?;
            if self.findings.len() == before {
                cache.mark("scanned", &marker)?;
            }
        }
        Ok(())
    }

    /// Reads every host file a recipe layer adds.
    pub(crate) fn host_files(
        &mut self,
        layer: &str,
        walked: &Walked,
        work: &mut Work,
    ) -> Result<()> {
        for (image_path, host) in walked.files() {
            let file = File::open(host).map_err(|e| Error::io("read", host, e))?;
            work.files_scanned += 1;
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

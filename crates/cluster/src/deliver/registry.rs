//! Pushing to an OCI registry: the image's gzip form (layers compressed once
//! per machine, on every core, cached by `diff_id`: see
//! [`hoist_imager::gzip`]), only the blobs the registry lacks, mounted from
//! another repository of the same registry when hoist pushed them there,
//! then the manifest byte for byte so the digest holds.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use hoist_imager::gzip::{GzipImage, GzipPlan};
use hoist_imager::{Reporter, TaskId};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_spec::image::Descriptor;

use super::progress::{self, Counter};
use super::retry::{looks_transient, with_backoff};
use super::{DeliverError, Delivered, Image, Loader, Via};

/// A user name and password for a registry. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// The user name.
    pub user: String,
    /// The password or access token.
    pub password: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Where to push: `HOST[:PORT][/PREFIX]`, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryTarget {
    /// `host[:port]`.
    pub host: String,
    /// A repository prefix (`team/apps`) the image names go under, if any.
    pub prefix: Option<String>,
    /// Plain HTTP instead of HTTPS, only when the user asked for it.
    pub insecure: bool,
    /// Credentials, or `None` to push anonymously.
    pub credentials: Option<RegistryCredentials>,
}

impl RegistryTarget {
    /// Parses `HOST[:PORT][/PREFIX]` as `--registry` takes it.
    #[must_use]
    pub fn parse(address: &str, insecure: bool, credentials: Option<RegistryCredentials>) -> Self {
        let address = address.trim_end_matches('/');
        let (host, prefix) = match address.split_once('/') {
            Some((host, prefix)) => (host, Some(prefix.to_owned())),
            None => (address, None),
        };
        Self {
            host: host.to_owned(),
            prefix,
            insecure,
            credentials,
        }
    }

    fn repository(&self, name: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}/{name}"),
            None => name.to_owned(),
        }
    }
}

/// Pushes images to one registry.
pub struct RegistryLoader {
    client: Client,
    target: RegistryTarget,
    /// Blobs this loader has pushed or found, by digest, with their
    /// repository: the sources for cross-repository mounts.
    known: Mutex<HashMap<String, String>>,
    /// Where the layers' gzip forms are kept.
    cache_dir: PathBuf,
}

impl fmt::Debug for RegistryLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryLoader")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl RegistryLoader {
    /// A loader for `target`; no request is made until an image is delivered.
    #[must_use]
    pub fn new(target: RegistryTarget) -> Self {
        let protocol = if target.insecure {
            ClientProtocol::HttpsExcept(vec![target.host.clone()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            // One PUT per blob, streamed from disk with its length known.
            use_monolithic_push: true,
            ..ClientConfig::default()
        });
        Self {
            client,
            target,
            known: Mutex::new(HashMap::new()),
            // Where `hoist build` keeps its cache unless told otherwise
            // (the CLI's `--cache-dir` reads the same variable).
            cache_dir: std::env::var_os("HOIST_CACHE_DIR")
                .filter(|dir| !dir.is_empty())
                .map_or_else(hoist_imager::cache::default_dir, PathBuf::from),
        }
    }

    /// Keeps the layers' gzip forms in the build cache at `dir` instead of
    /// hoist-imager's default one.
    #[must_use]
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = dir.into();
        self
    }

    /// The image's gzip form: compressed on a blocking thread (every core)
    /// when the cache lacks a layer's, reported as its own task.
    async fn gzip_form(
        &self,
        image: &Image,
        reporter: &dyn Reporter,
    ) -> Result<GzipImage, DeliverError> {
        let layout = image.source.layout.clone();
        let failed = |message: String| DeliverError::Compress {
            layout: layout.clone(),
            cache: self.cache_dir.clone(),
            message,
        };
        let plan = GzipPlan::new(&layout, &self.cache_dir).map_err(|e| failed(e.to_string()))?;
        let pending = plan.pending_bytes();
        if pending == 0 {
            return plan
                .run(&std::sync::atomic::AtomicU64::new(0))
                .map_err(|e| failed(e.to_string()));
        }
        let task = reporter.on_start(
            &format!("compress {} for {}", image.source.name, self.target.host),
            Some(pending),
        );
        let counter = Counter::default();
        let shared = counter.shared();
        let work = tokio::task::spawn_blocking(move || plan.run(&shared));
        let result = match progress::reporting(work, &counter, reporter, task).await {
            Ok(result) => result.map_err(|e| failed(e.to_string())),
            Err(join) => Err(failed(join.to_string())),
        };
        reporter.on_finish(
            task,
            &match &result {
                Ok(gzip) => format!(
                    "{:.1} MB -> {:.1} MB",
                    gzip.bytes_compressed as f64 / 1e6,
                    gzip.blobs
                        .iter()
                        .skip(1)
                        .map(|b| b.descriptor.size())
                        .sum::<u64>() as f64
                        / 1e6
                ),
                Err(_) => "failed".to_owned(),
            },
        );
        result
    }

    fn auth(&self) -> RegistryAuth {
        match &self.target.credentials {
            Some(c) => RegistryAuth::Basic(c.user.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    fn error(&self, reference: &Reference, error: &OciDistributionError) -> DeliverError {
        let registry = self.target.host.clone();
        if status(error) == Some(401) {
            return match &self.target.credentials {
                Some(c) => DeliverError::RegistryAuth {
                    registry,
                    user: c.user.clone(),
                },
                None => DeliverError::RegistryAuthRequired { registry },
            };
        }
        let mut message = error.to_string();
        let unanswered =
            matches!(error, OciDistributionError::RequestError(e) if e.status().is_none());
        if unanswered && !self.target.insecure {
            // The usual cause on a developer machine: a plain-HTTP registry.
            message =
                format!("{message}; if {registry} speaks plain HTTP, add --insecure-registry");
        }
        if message.contains("no space left on device") {
            return DeliverError::NoSpace {
                target: format!("the registry {registry}"),
                image: reference.whole(),
                message,
                fix: "the registry's garbage collector reclaims unreferenced blobs",
            };
        }
        DeliverError::Registry {
            registry,
            reference: reference.whole(),
            message,
        }
    }

    async fn retried<T, Fut>(
        &self,
        reference: &Reference,
        attempt: impl FnMut() -> Fut,
    ) -> Result<T, DeliverError>
    where
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        with_backoff(
            |error: &OciDistributionError| {
                status(error).is_some_and(|s| s == 429 || s >= 500)
                    || looks_transient(&error.to_string())
            },
            attempt,
        )
        .await
        .map_err(|error| self.error(reference, &error))
    }

    async fn has_manifest(&self, by_digest: &Reference) -> Result<bool, DeliverError> {
        let auth = self.auth();
        self.retried(by_digest, || async {
            match self.client.fetch_manifest_digest(by_digest, &auth).await {
                Ok(_) => Ok(true),
                Err(error) if status(&error) == Some(404) => Ok(false),
                Err(error) => Err(error),
            }
        })
        .await
    }

    /// Makes `blob` (its bytes at `path`) present in `reference`'s repository.
    async fn ensure_blob(
        &self,
        path: &Path,
        reference: &Reference,
        blob: &Descriptor,
        counter: &Counter,
        reporter: &dyn Reporter,
        task: TaskId,
    ) -> Result<(), DeliverError> {
        let digest = blob.digest().to_string();
        let repository = reference.repository().to_owned();
        let present = self
            .retried(reference, || self.client.blob_exists(reference, &digest))
            .await?;
        if present {
            self.remember(&digest, &repository);
            return Ok(());
        }
        let mount_from = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&digest)
            .filter(|from| **from != repository)
            .cloned();
        if let Some(from) = mount_from {
            let source = Reference::with_tag(self.target.host.clone(), from, "mount".to_owned());
            // A registry that cannot mount answers otherwise; uploading still works.
            if self
                .client
                .mount_blob(reference, &source, &digest)
                .await
                .is_ok()
            {
                self.remember(&digest, &repository);
                return Ok(());
            }
        }
        let upload = self.retried(reference, || async {
            let body = progress::file_stream(path, counter)
                .await
                .map_err(|error| OciDistributionError::GenericError(Some(error.to_string())))?
                .map_err(OciDistributionError::from);
            self.client
                .push_blob_stream(reference, body, &digest, Some(blob.size()))
                .await
        });
        progress::reporting(upload, counter, reporter, task).await?;
        self.remember(&digest, &repository);
        Ok(())
    }

    fn remember(&self, digest: &str, repository: &str) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(digest.to_owned(), repository.to_owned());
    }
}

/// The HTTP status an oci-client error stands for, where it says.
fn status(error: &OciDistributionError) -> Option<u16> {
    match error {
        OciDistributionError::RequestError(error) => error.status().map(|s| s.as_u16()),
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Some(401),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().find_map(|e| match e.code {
                OciErrorCode::Unauthorized | OciErrorCode::Denied => Some(401),
                OciErrorCode::ManifestUnknown
                | OciErrorCode::BlobUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::NotFound => Some(404),
                OciErrorCode::Toomanyrequests => Some(429),
                _ => None,
            })
        }
        _ => None,
    }
}

impl Loader for RegistryLoader {
    fn target(&self) -> String {
        format!("the registry {}", self.target.host)
    }

    fn deliver<'a>(
        &'a self,
        image: &'a Image,
        reporter: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<Delivered, DeliverError>> {
        Box::pin(async move {
            let host = self.target.host.clone();
            let repository = self.target.repository(&image.source.name);
            self.client.store_auth_if_needed(&host, &self.auth()).await;
            let gzip = self.gzip_form(image, reporter).await?;
            let hex = gzip.digest.strip_prefix("sha256:").unwrap_or(&gzip.digest);
            let by_digest =
                Reference::with_digest(host.clone(), repository.clone(), gzip.digest.clone());
            let by_tag =
                Reference::with_tag(host.clone(), repository.clone(), hex[..12].to_owned());
            let total = gzip.blobs.iter().map(|b| b.descriptor.size()).sum();
            let task = reporter.on_start(
                &format!("push {} to {host}", image.source.name),
                Some(total),
            );
            let skipped = match self.has_manifest(&by_digest).await {
                Ok(has) => has,
                Err(error) => {
                    reporter.on_finish(task, "failed");
                    return Err(error);
                }
            };
            let counter = Counter::default();
            let mut bytes_sent = 0;
            if !skipped {
                for blob in &gzip.blobs {
                    if let Err(error) = self
                        .ensure_blob(
                            &blob.path,
                            &by_tag,
                            &blob.descriptor,
                            &counter,
                            reporter,
                            task,
                        )
                        .await
                    {
                        reporter.on_finish(task, "failed");
                        return Err(error);
                    }
                }
                let media_type = gzip.media_type.parse().map_err(|_| DeliverError::Source {
                    path: image.blob(&image.digest),
                    reason: format!("the media type {:?} is not valid", gzip.media_type),
                })?;
                self.retried(&by_tag, || {
                    self.client.push_manifest_raw(
                        &by_tag,
                        gzip.manifest.clone(),
                        // The HeaderValue is cheap to clone; a retry needs its own.
                        Clone::clone(&media_type),
                    )
                })
                .await?;
                bytes_sent = counter.get() + gzip.manifest.len() as u64;
            }
            reporter.on_finish(task, &progress::outcome(bytes_sent, skipped));
            Ok(Delivered {
                digest: gzip.digest.clone(),
                reference: format!("{host}/{repository}@{}", gzip.digest),
                bytes_sent,
                skipped,
                via: Via::Registry,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_addresses_split_into_host_and_prefix() {
        let target = RegistryTarget::parse("127.0.0.1:5000/team/apps/", true, None);
        assert_eq!(target.host, "127.0.0.1:5000");
        assert_eq!(target.prefix.as_deref(), Some("team/apps"));
        assert_eq!(target.repository("api"), "team/apps/api");
        let bare = RegistryTarget::parse("registry.example:443", false, None);
        assert_eq!(bare.prefix, None);
        assert_eq!(bare.repository("api"), "api");
    }

    #[test]
    fn credentials_never_show_the_password_in_debug() {
        let secret = "pw-that-must-not-leak";
        let credentials = RegistryCredentials {
            user: "hoist".into(),
            password: secret.into(),
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("hoist"), "{shown}");
    }
}

//! Loading into a Docker daemon: the local one, Minikube's (TCP and TLS), or
//! Docker Desktop's.

use std::path::PathBuf;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{ImportImageOptionsBuilder, TagImageOptionsBuilder};
use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use hoist_imager::Reporter;

use super::progress::{self, Counter};
use super::retry::{looks_transient, with_backoff};
use super::{DeliverError, Delivered, Image, Loader, Via};

/// Seconds bollard waits on one request; loading a large image is one request.
const TIMEOUT_SECS: u64 = 600;

/// Client certificate files for a daemon that requires TLS, as `minikube
/// docker-env` names them (`DOCKER_CERT_PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate (`ca.pem`).
    pub ca: PathBuf,
    /// The client certificate (`cert.pem`).
    pub cert: PathBuf,
    /// The client key (`key.pem`).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The three files in `dir` under their conventional names.
    #[must_use]
    pub fn in_dir(dir: &std::path::Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// Where a Docker daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonEndpoint {
    /// `unix:///path`, `tcp://host:port` or `http://host:port`.
    pub host: String,
    /// The client TLS files, for `tcp://` daemons that require TLS.
    pub tls: Option<TlsFiles>,
}

impl DaemonEndpoint {
    /// The daemon the Docker CLI would use: `DOCKER_HOST` (default
    /// `unix:///var/run/docker.sock`), with TLS from `DOCKER_CERT_PATH` (default
    /// `~/.docker`) when `DOCKER_TLS_VERIFY` is set.
    #[must_use]
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let host = var("DOCKER_HOST").unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        let tls = var("DOCKER_TLS_VERIFY").filter(|v| v != "0").map(|_| {
            let dir = var("DOCKER_CERT_PATH").map_or_else(
                || PathBuf::from(var("HOME").unwrap_or_default()).join(".docker"),
                PathBuf::from,
            );
            TlsFiles::in_dir(&dir)
        });
        Self { host, tls }
    }

    /// Connects and negotiates the API version with the daemon.
    ///
    /// # Errors
    ///
    /// [`DeliverError::TlsMaterialMissing`] naming a missing TLS file, or
    /// [`DeliverError::DaemonUnreachable`] naming the endpoint.
    pub async fn connect(&self) -> Result<Docker, DeliverError> {
        let unreachable = |error: &BollardError| DeliverError::DaemonUnreachable {
            endpoint: self.host.clone(),
            message: error.to_string(),
        };
        let version = bollard::API_DEFAULT_VERSION;
        let docker = if let Some(path) = self.host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, TIMEOUT_SECS, version)
        } else if let Some(tls) = &self.tls {
            for path in [&tls.ca, &tls.cert, &tls.key] {
                if !path.is_file() {
                    return Err(DeliverError::TlsMaterialMissing {
                        endpoint: self.host.clone(),
                        path: path.clone(),
                    });
                }
            }
            let address = self.host.replacen("tcp://", "", 1);
            Docker::connect_with_ssl(
                &address,
                &tls.key,
                &tls.cert,
                &tls.ca,
                TIMEOUT_SECS,
                version,
            )
        } else {
            Docker::connect_with_http(&self.host, TIMEOUT_SECS, version)
        }
        .map_err(|error| unreachable(&error))?;
        docker
            .negotiate_version()
            .await
            .map_err(|error| unreachable(&error))
    }
}

/// Loads images into a Docker daemon with `POST /images/load`, streaming the
/// docker-archive from disk, then tags them `hoist.local/<name>:<hex12>`.
#[derive(Debug, Clone)]
pub struct DaemonLoader {
    docker: Docker,
    endpoint: String,
}

impl DaemonLoader {
    /// A loader for an already connected daemon; `endpoint` names it in messages.
    #[must_use]
    pub fn new(docker: Docker, endpoint: impl Into<String>) -> Self {
        Self {
            docker,
            endpoint: endpoint.into(),
        }
    }

    /// Whether the daemon has an image by this name or ID.
    async fn has(&self, name: &str) -> Result<bool, DeliverError> {
        Ok(self.id_of(name).await?.is_some())
    }

    /// The ID of the daemon's image by this name or ID, if it has one.
    async fn id_of(&self, name: &str) -> Result<Option<String>, DeliverError> {
        match self.docker.inspect_image(name).await {
            Ok(image) => Ok(Some(image.id.unwrap_or_default())),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(error) => Err(DeliverError::DaemonUnreachable {
                endpoint: self.endpoint.clone(),
                message: error.to_string(),
            }),
        }
    }

    async fn load(&self, image: &Image, reporter: &dyn Reporter) -> Result<u64, DeliverError> {
        let path = &image.source.archive;
        let task = reporter.on_start(
            &format!("load {} into Docker", image.source.name),
            Some(image.archive_size),
        );
        let counter = Counter::default();
        let work = with_backoff(
            |error: &DeliverError| matches!(error, DeliverError::DaemonUnreachable { message, .. } if looks_transient(message)),
            || async {
                let body = progress::file_stream(path, &counter).await?;
                self.docker
                    .import_image_stream(
                        ImportImageOptionsBuilder::new().quiet(true).build(),
                        body,
                        None,
                    )
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|error| self.load_error(image, error))
            },
        );
        let result = progress::reporting(work, &counter, reporter, task).await;
        let sent = counter.get();
        reporter.on_finish(
            task,
            &match &result {
                Ok(_) => progress::outcome(sent, false),
                Err(_) => "failed".to_owned(),
            },
        );
        result.map(|_| sent)
    }

    fn load_error(&self, image: &Image, error: BollardError) -> DeliverError {
        let message = match error {
            // The daemon's text is inside these; their Display hides or wraps it.
            BollardError::DockerStreamError { error } => error,
            BollardError::DockerResponseServerError { message, .. } => message,
            other => {
                return DeliverError::DaemonUnreachable {
                    endpoint: self.endpoint.clone(),
                    message: other.to_string(),
                };
            }
        };
        let shown = image.source.archive.display().to_string();
        if message.contains("no space left on device") {
            DeliverError::NoSpace {
                target: format!("the Docker daemon at {}", self.endpoint),
                image: shown,
                message,
                fix: "`docker image prune` removes unused images",
            }
        } else {
            DeliverError::Daemon {
                endpoint: self.endpoint.clone(),
                action: "load",
                image: shown,
                message,
            }
        }
    }

    async fn tag(&self, image: &Image, reference: &str) -> Result<(), DeliverError> {
        let (repo, tag) = reference
            .rsplit_once(':')
            .expect("local references always carry a tag");
        let options = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        // Docker's own store names an image by its config digest; a
        // containerd-backed store (Docker Desktop) by the archive's tag.
        let mut source = image.config_digest();
        if !self.has(&source).await? {
            source = image.archive_tag()?;
        }
        self.docker
            .tag_image(&source, Some(options))
            .await
            .map_err(|error| DeliverError::Daemon {
                endpoint: self.endpoint.clone(),
                action: "tag",
                image: source.clone(),
                message: error.to_string(),
            })
    }
}

impl Loader for DaemonLoader {
    fn target(&self) -> String {
        format!("the Docker daemon at {}", self.endpoint)
    }

    fn deliver<'a>(
        &'a self,
        image: &'a Image,
        reporter: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<Delivered, DeliverError>> {
        Box::pin(async move {
            let reference = image.local_reference();
            // The tag is only trusted when it names this very image: Docker's
            // store identifies it by config digest, a containerd store by
            // manifest digest.
            let skipped = self
                .id_of(&reference)
                .await?
                .is_some_and(|id| id == image.config_digest() || id == image.digest);
            let bytes_sent = if skipped {
                let task = reporter.on_start(&format!("load {}", image.source.name), Some(0));
                reporter.on_finish(task, &progress::outcome(0, true));
                0
            } else {
                let sent = self.load(image, reporter).await?;
                self.tag(image, &reference).await?;
                sent
            };
            Ok(Delivered {
                digest: image.digest.clone(),
                reference,
                bytes_sent,
                skipped,
                via: Via::DockerDaemon,
            })
        })
    }
}

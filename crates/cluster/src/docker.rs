//! Finding and connecting to a Docker daemon the way the docker CLI does:
//! `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::env::Environment;

/// The socket the docker CLI uses when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Requests that take longer than this are abandoned (bollard's unit: seconds).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// Errors reaching a Docker daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// The daemon did not answer.
    #[error("the Docker daemon at {endpoint} is unreachable: {reason}")]
    Unreachable {
        /// The endpoint tried.
        endpoint: String,
        /// The daemon's or the transport's own words.
        reason: String,
    },
    /// `DOCKER_TLS_VERIFY` is set but a TLS file is missing.
    #[error("TLS file {} for the Docker daemon at {endpoint} does not exist; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem", path.display())]
    TlsFileMissing {
        /// The endpoint that needs it.
        endpoint: String,
        /// The missing file.
        path: PathBuf,
    },
    /// `DOCKER_HOST` has a scheme hoist cannot use.
    #[error("DOCKER_HOST={endpoint} is not supported; use unix://PATH or tcp://HOST:PORT")]
    UnsupportedHost {
        /// The value given.
        endpoint: String,
    },
}

/// TLS client material for a TCP daemon (`DOCKER_CERT_PATH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    /// The CA certificate (`ca.pem`).
    pub ca: PathBuf,
    /// The client certificate (`cert.pem`).
    pub cert: PathBuf,
    /// The client key (`key.pem`).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The three files in `dir`, named as the docker CLI names them.
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// Where a Docker daemon listens, and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerEndpoint {
    /// `unix:///path` or `tcp://host:port`.
    pub host: String,
    /// Client TLS material, when the daemon requires it.
    pub tls: Option<TlsFiles>,
}

/// What a reachable daemon said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaemonVersion {
    /// The engine version, e.g. `20.10.24`.
    pub version: String,
    /// The API version it speaks, e.g. `1.41`.
    pub api_version: String,
}

impl DockerEndpoint {
    /// The endpoint the docker CLI would use in `env`.
    #[must_use]
    pub fn from_env(env: &Environment) -> Self {
        let host = env
            .var("DOCKER_HOST")
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let tls = env
            .var("DOCKER_TLS_VERIFY")
            .filter(|v| !v.is_empty() && v != "0")
            .map(|_| {
                let dir = env
                    .var("DOCKER_CERT_PATH")
                    .map_or_else(|| env.home().join(".docker"), PathBuf::from);
                TlsFiles::in_dir(&dir)
            });
        Self { host, tls }
    }

    /// A client for this endpoint. Nothing is sent until the first request.
    ///
    /// # Errors
    ///
    /// [`DockerError::TlsFileMissing`] naming the first missing TLS file,
    /// [`DockerError::Unreachable`] when a unix socket does not exist, and
    /// [`DockerError::UnsupportedHost`] for other schemes.
    pub fn client(&self) -> Result<Docker, DockerError> {
        let unreachable = |reason: String| DockerError::Unreachable {
            endpoint: self.host.clone(),
            reason,
        };
        if let Some(path) = self.host.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(unreachable(format!(
                    "socket {path} does not exist; start Docker or point DOCKER_HOST at a running daemon"
                )));
            }
            return Docker::connect_with_unix(
                &self.host,
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| unreachable(e.to_string()));
        }
        if !(self.host.starts_with("tcp://")
            || self.host.starts_with("http://")
            || self.host.starts_with("https://"))
        {
            return Err(DockerError::UnsupportedHost {
                endpoint: self.host.clone(),
            });
        }
        match &self.tls {
            Some(tls) => {
                for path in [&tls.ca, &tls.cert, &tls.key] {
                    if !path.is_file() {
                        return Err(DockerError::TlsFileMissing {
                            endpoint: self.host.clone(),
                            path: path.clone(),
                        });
                    }
                }
                Docker::connect_with_ssl(
                    &self.host,
                    &tls.key,
                    &tls.cert,
                    &tls.ca,
                    REQUEST_TIMEOUT_SECS,
                    bollard::API_DEFAULT_VERSION,
                )
                .map_err(|e| unreachable(e.to_string()))
            }
            None => Docker::connect_with_http(
                &self.host,
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| unreachable(e.to_string())),
        }
    }

    /// Connects, negotiates the API version with the daemon (ours may be
    /// older than bollard's default) and asks for its version, all within
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`DockerEndpoint::client`], and [`DockerError::Unreachable`] when
    /// the daemon does not answer in time or answers with an error.
    pub async fn connect(&self, timeout: Duration) -> Result<(Docker, DaemonVersion), DockerError> {
        let unreachable = |reason: String| DockerError::Unreachable {
            endpoint: self.host.clone(),
            reason,
        };
        let client = self.client()?;
        let handshake = async {
            let client = client.negotiate_version().await?;
            let version = client.version().await?;
            Ok::<_, bollard::errors::Error>((client, version))
        };
        let (client, version) = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        let version = DaemonVersion {
            version: version.version.unwrap_or_else(|| "unknown".to_owned()),
            api_version: version.api_version.unwrap_or_else(|| "unknown".to_owned()),
        };
        Ok((client, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(vars.iter().copied().chain([("HOME", "/home/dev")]))
    }

    #[test]
    fn defaults_to_the_local_socket() {
        let endpoint = DockerEndpoint::from_env(&env(&[]));
        assert_eq!(
            endpoint,
            DockerEndpoint {
                host: DEFAULT_HOST.to_owned(),
                tls: None
            }
        );
    }

    #[test]
    fn tls_files_come_from_docker_cert_path_or_home() {
        let with_path = DockerEndpoint::from_env(&env(&[
            ("DOCKER_HOST", "tcp://192.0.2.7:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
        ]));
        assert_eq!(with_path.tls, Some(TlsFiles::in_dir(Path::new("/certs"))));
        let from_home = DockerEndpoint::from_env(&env(&[
            ("DOCKER_HOST", "tcp://192.0.2.7:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
        ]));
        assert_eq!(
            from_home.tls,
            Some(TlsFiles::in_dir(Path::new("/home/dev/.docker")))
        );
    }

    #[test]
    fn missing_tls_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "not a real certificate").unwrap();
        let endpoint = DockerEndpoint {
            host: "tcp://192.0.2.7:2376".to_owned(),
            tls: Some(TlsFiles::in_dir(dir.path())),
        };
        let err = endpoint.client().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "TLS file {} for the Docker daemon at tcp://192.0.2.7:2376 does not exist; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem",
                dir.path().join("cert.pem").display()
            )
        );
    }

    #[test]
    fn missing_socket_is_unreachable_with_the_fix() {
        let endpoint = DockerEndpoint {
            host: "unix:///nonexistent/docker.sock".to_owned(),
            tls: None,
        };
        assert_eq!(
            endpoint.client().unwrap_err().to_string(),
            "the Docker daemon at unix:///nonexistent/docker.sock is unreachable: socket /nonexistent/docker.sock does not exist; start Docker or point DOCKER_HOST at a running daemon"
        );
    }

    #[test]
    fn unsupported_scheme_is_refused() {
        let endpoint = DockerEndpoint {
            host: "ftp://example.invalid".to_owned(),
            tls: None,
        };
        assert_eq!(
            endpoint.client().unwrap_err().to_string(),
            "DOCKER_HOST=ftp://example.invalid is not supported; use unix://PATH or tcp://HOST:PORT"
        );
    }
}

//! Base images from an OCI registry through oci-client: anonymous, basic or
//! bearer-token auth from the environment, linux/amd64 picked from an index,
//! blobs fetched once into the content-addressed store and verified.
//!
//! Credentials never live in the recipe: they come with the build options,
//! by default from `HOIST_REGISTRY_TOKEN` (bearer), or `HOIST_REGISTRY_USER`
//! and `HOIST_REGISTRY_PASSWORD` (basic); neither means anonymous. Plain HTTP is used only for loopback registries
//! (`127.0.0.1`, `localhost`, `[::1]`).

use oci_client::client::{ClientConfig, ClientProtocol, linux_amd64_resolver};
use oci_client::{Client, Reference};
use oci_spec::image::ImageConfiguration;

use crate::base::{BaseImage, Ctx, import_layer};
use crate::digest::sha256;
use crate::{BaseError, Error, Result};

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    BaseError::Invalid {
        what: what.to_owned(),
        reason: reason.into(),
    }
    .into()
}

/// Credentials for a registry base. `Debug` never shows a password or token.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum RegistryAuth {
    /// No credentials.
    #[default]
    Anonymous,
    /// HTTP basic auth.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl RegistryAuth {
    /// `HOIST_REGISTRY_TOKEN`, else `HOIST_REGISTRY_USER` with
    /// `HOIST_REGISTRY_PASSWORD`, else anonymous.
    #[must_use]
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("HOIST_REGISTRY_TOKEN") {
            return Self::Bearer(token);
        }
        match (var("HOIST_REGISTRY_USER"), var("HOIST_REGISTRY_PASSWORD")) {
            (Some(user), Some(password)) => Self::Basic { user, password },
            _ => Self::Anonymous,
        }
    }

    fn to_client(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            Self::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            Self::Basic { user, password } => {
                oci_client::secrets::RegistryAuth::Basic(user.clone(), password.clone())
            }
            Self::Bearer(token) => oci_client::secrets::RegistryAuth::Bearer(token.clone()),
        }
    }
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Pulls `reference` (e.g. `127.0.0.1:5000/bases/python:3.11`).
pub(crate) fn registry(reference: &str, ctx: &Ctx<'_>) -> Result<BaseImage> {
    let what = format!("docker://{reference}");
    let parsed: Reference = reference
        .parse()
        .map_err(|e| invalid(&what, format!("is not an image reference: {e}")))?;
    let registry = parsed.resolve_registry().to_owned();
    let protocol = if is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry.clone()])
    } else {
        ClientProtocol::Https
    };
    let client = Client::new(ClientConfig {
        protocol,
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        ..ClientConfig::default()
    });
    let auth = ctx.registry_auth.to_client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start", std::path::Path::new("registry client"), e))?;
    let pull_err = |e: oci_client::errors::OciDistributionError| {
        invalid(
            &what,
            format!(
                "{e}; check the reference, that the registry is up, and HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD or HOIST_REGISTRY_TOKEN"
            ),
        )
    };
    runtime.block_on(async {
        let (manifest, _digest) = client
            .pull_image_manifest(&parsed, &auth)
            .await
            .map_err(pull_err)?;
        let mut config_bytes = Vec::new();
        client
            .pull_blob(&parsed, &manifest.config, &mut config_bytes)
            .await
            .map_err(pull_err)?;
        let actual = sha256(&config_bytes);
        if actual != manifest.config.digest {
            return Err(Error::DigestMismatch {
                what: format!("{what} config"),
                expected: manifest.config.digest.clone(),
                actual,
            });
        }
        let config = ImageConfiguration::from_reader(&config_bytes[..])
            .map_err(|e| invalid(&what, e.to_string()))?;
        let mut layers = Vec::new();
        for (i, descriptor) in manifest.layers.iter().enumerate() {
            let layer_what = format!("{what} layer {}", i + 1);
            let mut bytes = Vec::new();
            // A blob already in the store is not fetched again.
            if !ctx.store.has(&descriptor.digest) || !ctx.reuse {
                client
                    .pull_blob(&parsed, descriptor, &mut bytes)
                    .await
                    .map_err(pull_err)?;
            }
            let source: Box<dyn std::io::Read> = if bytes.is_empty() {
                let path = ctx.store.path(&descriptor.digest);
                Box::new(std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?)
            } else {
                Box::new(std::io::Cursor::new(bytes))
            };
            layers.push(import_layer(
                ctx,
                &layer_what,
                source,
                &descriptor.digest,
                &descriptor.media_type,
                config.rootfs().diff_ids().get(i),
            )?);
        }
        BaseImage::stacked(&what, layers, config)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_registries_get_plain_http() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("registry.example.com:5000"));
    }
}

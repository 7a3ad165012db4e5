//! Base images from an OCI registry through oci-client: anonymous, basic or
//! token auth (the Docker Hub flow: a 401 with `WWW-Authenticate: Bearer
//! realm=...,service=...,scope=...` sends the client to the token service,
//! with the credentials when there are any), linux/amd64 picked from an
//! index, blobs fetched once into the content-addressed store and verified.
//!
//! Credentials never live in the recipe (see [`crate::registries`] for
//! where they come from). Mirrors of the image's registry are tried first,
//! in order; a mirror that cannot give the image (it lacks it, refuses, or
//! does not answer) passes to the next and finally to the registry itself,
//! as containerd and docker do. Content that fails verification is an error
//! wherever it came from. Plain HTTP is used only for loopback registries
//! (`127.0.0.1`, `localhost`, `[::1]`).

use oci_client::client::{ClientConfig, ClientProtocol, linux_amd64_resolver};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::{Client, Reference, RegistryOperation};
use oci_spec::image::ImageConfiguration;

use crate::base::{BaseImage, Ctx, import_layer};
use crate::digest::sha256;
use crate::registries::{Credential, Source, is_loopback, login_host};
use crate::{BaseError, Error, Result};

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    BaseError::Invalid {
        what: what.to_owned(),
        reason: reason.into(),
    }
    .into()
}

/// Why one registry could not give the image.
enum Failure {
    /// It could not be fetched there: the next mirror (or the registry) may.
    Fetch(String),
    /// What was fetched is wrong: no other source is tried.
    Content(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Content(error)
    }
}

/// Pulls `reference` (e.g. `127.0.0.1:5000/bases/python:3.11` or
/// `python:3.12-slim`), through its registry's mirrors first.
pub(crate) fn registry(reference: &str, ctx: &Ctx<'_>) -> Result<BaseImage> {
    let what = format!("docker://{reference}");
    let parsed: Reference = reference
        .parse()
        .map_err(|e| invalid(&what, format!("is not an image reference: {e}")))?;
    let mirrors = ctx
        .registries
        .mirrors_of(parsed.registry())
        .map_err(|reason| invalid(&what, reason))?;
    crate::runtime::block_on("registry client", || async {
        let mut failed = Vec::new();
        for mirror in mirrors {
            match pull(&at_registry(&parsed, mirror), &what, ctx).await {
                Ok(base) => return Ok(base),
                Err(Failure::Fetch(reason)) => failed.push(format!("mirror {reason}")),
                Err(Failure::Content(error)) => return Err(error),
            }
        }
        match pull(&parsed, &what, ctx).await {
            Ok(base) => Ok(base),
            Err(Failure::Content(error)) => Err(error),
            Err(Failure::Fetch(reason)) => {
                failed.push(reason);
                Err(invalid(&what, failed.join("; then ")))
            }
        }
    })
}

/// `reference` as found at `registry`: the same repository and tag or digest.
fn at_registry(reference: &Reference, registry: &str) -> Reference {
    let (registry, repository) = (registry.to_owned(), reference.repository().to_owned());
    match (reference.tag(), reference.digest()) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag.into(), digest.into())
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest.into()),
        (tag, None) => Reference::with_tag(registry, repository, tag.unwrap_or("latest").into()),
    }
}

async fn pull(reference: &Reference, what: &str, ctx: &Ctx<'_>) -> Result<BaseImage, Failure> {
    let host = reference.resolve_registry().to_owned();
    let protocol = if is_loopback(&host) {
        ClientProtocol::HttpsExcept(vec![host.clone()])
    } else {
        ClientProtocol::Https
    };
    let client = Client::new(ClientConfig {
        protocol,
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        ..ClientConfig::default()
    });
    let credential = ctx
        .registries
        .credential(ctx.registry_auth, &host)
        .map_err(|reason| Failure::Fetch(format!("{host}: {reason}")))?;
    let auth = credential.auth.to_client();
    let fetch =
        |e: OciDistributionError| Failure::Fetch(describe(&e, reference, &host, &credential));
    // The token dance up front: the client otherwise drops the token
    // service's refusal and sends the request without credentials.
    client
        .auth(reference, &auth, RegistryOperation::Pull)
        .await
        .map_err(fetch)?;
    let (manifest, _digest) = client
        .pull_image_manifest(reference, &auth)
        .await
        .map_err(fetch)?;
    let mut config_bytes = Vec::new();
    client
        .pull_blob(reference, &manifest.config, &mut config_bytes)
        .await
        .map_err(fetch)?;
    let actual = sha256(&config_bytes);
    if actual != manifest.config.digest {
        return Err(Error::DigestMismatch {
            what: format!("{what} config"),
            expected: manifest.config.digest.clone(),
            actual,
        }
        .into());
    }
    let config = ImageConfiguration::from_reader(&config_bytes[..])
        .map_err(|e| invalid(what, e.to_string()))?;
    let mut layers = Vec::new();
    for (i, descriptor) in manifest.layers.iter().enumerate() {
        let layer_what = format!("{what} layer {}", i + 1);
        let mut bytes = Vec::new();
        // A blob already in the store is not fetched again.
        if !ctx.store.has(&descriptor.digest) || !ctx.reuse {
            client
                .pull_blob(reference, descriptor, &mut bytes)
                .await
                .map_err(fetch)?;
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
    Ok(BaseImage::stacked(what, layers, config)?)
}

/// What went wrong at `host`, and the next step; never the secret.
fn describe(
    error: &OciDistributionError,
    reference: &Reference,
    host: &str,
    credential: &Credential,
) -> String {
    let repository = reference.repository();
    let login = match login_host(host) {
        "" => "`docker login`".to_owned(),
        host => format!("`docker login {host}`"),
    };
    let user = match &credential.auth {
        crate::RegistryAuth::Basic { user, .. } => format!("user `{user}`"),
        _ => "a token".to_owned(),
    };
    let fix = match &credential.source {
        Source::None => {
            format!("log in with {login} or set HOIST_REGISTRY_USER/HOIST_REGISTRY_PASSWORD")
        }
        Source::Env(vars) => format!("check {vars}"),
        Source::DockerConfig(_) | Source::Helper { .. } => format!("log in again with {login}"),
    };
    let refused = matches!(
        error,
        OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::UnauthorizedError { .. }
    );
    let missing = matches!(error, OciDistributionError::RegistryError { envelope, .. }
        if envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown)));
    let message = match &credential.source {
        _ if missing => format!(
            "{host} has no image {}; check the reference",
            image_name(reference)
        ),
        Source::None if refused => {
            format!("{host} requires credentials to pull {repository} and none were found; {fix}")
        }
        source if refused => format!(
            "{host} refused the credentials of {user} from {source} for {repository}; {fix}"
        ),
        _ => format!("{host}: {error}; check that the registry is up and the reference is right"),
    };
    match credential.auth.secret() {
        Some(secret) if !secret.is_empty() => message.replace(secret, "<redacted>"),
        _ => message,
    }
}

/// `REPOSITORY:TAG` or `REPOSITORY@DIGEST`, without the registry.
fn image_name(reference: &Reference) -> String {
    match (reference.tag(), reference.digest()) {
        (_, Some(digest)) => format!("{}@{digest}", reference.repository()),
        (tag, None) => format!("{}:{}", reference.repository(), tag.unwrap_or("latest")),
    }
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

    #[test]
    fn a_mirror_keeps_the_repository_and_tag() {
        let upstream: Reference = "python:3.11-slim".parse().unwrap();
        assert_eq!(
            at_registry(&upstream, "127.0.0.1:5002").whole(),
            "127.0.0.1:5002/library/python:3.11-slim"
        );
        let pinned: Reference = format!("docker.io/library/python@sha256:{}", "a".repeat(64))
            .parse()
            .unwrap();
        assert_eq!(
            at_registry(&pinned, "m:1").whole(),
            format!("m:1/library/python@sha256:{}", "a".repeat(64))
        );
    }
}

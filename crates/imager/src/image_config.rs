//! The image config and manifest: the base's config with the recipe's on
//! top, history for every layer, annotations, all through oci-spec builders.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use oci_spec::image::{
    Arch, ConfigBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};

use crate::output::canonical;
use crate::recipe::{Recipe, RecipeError};
use crate::{Error, Result};

/// One layer as the config and manifest name it.
pub(crate) struct ConfigLayer<'a> {
    pub(crate) digest: &'a str,
    pub(crate) diff_id: &'a str,
    pub(crate) size: u64,
    pub(crate) media_type: &'a str,
    /// `None` for base layers, whose history comes from the base.
    pub(crate) created_by: Option<String>,
}

/// The build-time facts that are not in the recipe.
pub(crate) struct Stamp<'a> {
    pub(crate) created: String,
    pub(crate) revision: Option<&'a str>,
}

fn spec_err(e: oci_spec::OciSpecError) -> Error {
    Error::io(
        "build image metadata",
        Path::new("config"),
        io::Error::other(e),
    )
}

/// Resolves the recipe's user against the base's `/etc/passwd`; the result
/// is never root.
///
/// # Errors
///
/// [`RecipeError::NoUser`], [`RecipeError::RootUser`] or
/// [`RecipeError::UnknownUser`].
pub(crate) fn resolve_user(
    recipe: &Recipe,
    base: Option<&ImageConfiguration>,
    passwd: Option<&str>,
) -> Result<String, RecipeError> {
    let user = recipe
        .config
        .user
        .clone()
        .or_else(|| {
            base.and_then(|b| b.config().as_ref()?.user().clone())
                .filter(|u| !u.is_empty())
        })
        .ok_or(RecipeError::NoUser)?;
    let (name, group) = user
        .split_once(':')
        .map_or((user.as_str(), None), |(u, g)| (u, Some(g)));
    let uid = if name.chars().all(|c| c.is_ascii_digit()) {
        name.to_owned()
    } else {
        passwd
            .into_iter()
            .flat_map(str::lines)
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() > 2 && fields[0] == name)
            .map(|fields| fields[2].to_owned())
            .ok_or_else(|| RecipeError::UnknownUser { user: user.clone() })?
    };
    if uid.parse::<u64>() == Ok(0) {
        return Err(RecipeError::RootUser { user });
    }
    Ok(match group {
        Some(group) => format!("{uid}:{group}"),
        None => uid,
    })
}

/// The config's JSON bytes (canonical, so reproducible).
pub(crate) fn config_json(
    recipe: &Recipe,
    base: Option<&ImageConfiguration>,
    user: &str,
    layers: &[ConfigLayer<'_>],
    stamp: &Stamp<'_>,
) -> Result<Vec<u8>> {
    let base_config = base.and_then(|b| b.config().clone());
    let env = merged_env(recipe, base_config.as_ref());
    let mut labels: BTreeMap<String, String> = base_config
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(recipe.config.labels.clone());
    labels.extend(annotations(recipe, stamp));
    let mut ports: Vec<String> = base_config
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default();
    ports.extend(recipe.config.ports.iter().map(|p| format!("{p}/tcp")));
    ports.sort();
    ports.dedup();
    let pick = |ours: &Option<Vec<String>>, theirs: Option<Vec<String>>| ours.clone().or(theirs);
    let mut config = ConfigBuilder::default().user(user).env(env).labels(
        labels
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    );
    if !ports.is_empty() {
        config = config.exposed_ports(ports);
    }
    if let Some(entrypoint) = pick(
        &recipe.config.entrypoint,
        base_config.as_ref().and_then(|c| c.entrypoint().clone()),
    ) {
        config = config.entrypoint(entrypoint);
    }
    // A new entrypoint drops the base's cmd, as in a Dockerfile.
    let base_cmd = if recipe.config.entrypoint.is_some() {
        None
    } else {
        base_config.as_ref().and_then(|c| c.cmd().clone())
    };
    if let Some(cmd) = pick(&recipe.config.cmd, base_cmd) {
        config = config.cmd(cmd);
    }
    if let Some(dir) = recipe
        .config
        .workdir
        .clone()
        .or_else(|| base_config.as_ref().and_then(|c| c.working_dir().clone()))
    {
        config = config.working_dir(dir);
    }
    let mut history = base.and_then(|b| b.history().clone()).unwrap_or_default();
    for layer in layers {
        if let Some(created_by) = &layer.created_by {
            history.push(
                HistoryBuilder::default()
                    .created(stamp.created.clone())
                    .created_by(created_by.clone())
                    .comment("hoist")
                    .build()
                    .map_err(spec_err)?,
            );
        }
    }
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|l| l.diff_id.to_owned())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(spec_err)?;
    let image = ImageConfigurationBuilder::default()
        .created(stamp.created.clone())
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(config.build().map_err(spec_err)?)
        .rootfs(rootfs)
        .history(history)
        .build()
        .map_err(spec_err)?;
    Ok(canonical(&image))
}

/// The base's environment with the recipe's on top, in first-seen order
/// (PATH first when the base has none).
fn merged_env(recipe: &Recipe, base_config: Option<&oci_spec::image::Config>) -> Vec<String> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for pair in base_config
        .and_then(|c| c.env().clone())
        .unwrap_or_default()
    {
        let (k, v) = pair.split_once('=').unwrap_or((&pair, ""));
        if env.insert(k.to_owned(), v.to_owned()).is_none() {
            order.push(k.to_owned());
        }
    }
    if !env.contains_key("PATH") {
        order.insert(0, "PATH".to_owned());
        env.insert(
            "PATH".to_owned(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        );
    }
    for (k, v) in &recipe.config.env {
        if env.insert(k.clone(), v.clone()).is_none() {
            order.push(k.clone());
        }
    }
    order.iter().map(|k| format!("{k}={}", env[k])).collect()
}

fn annotations(recipe: &Recipe, stamp: &Stamp<'_>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    map.insert(
        "org.opencontainers.image.created".to_owned(),
        stamp.created.clone(),
    );
    if let Some(source) = &recipe.annotations.source {
        map.insert("org.opencontainers.image.source".to_owned(), source.clone());
    }
    if let Some(revision) = stamp
        .revision
        .map(str::to_owned)
        .or_else(|| recipe.annotations.revision.clone())
    {
        map.insert("org.opencontainers.image.revision".to_owned(), revision);
    }
    map
}

/// The manifest's JSON bytes.
pub(crate) fn manifest_json(
    recipe: &Recipe,
    config: (&str, u64),
    layers: &[ConfigLayer<'_>],
    stamp: &Stamp<'_>,
) -> Result<Vec<u8>> {
    let descriptor = |media: MediaType, digest: &str, size: u64| {
        let digest: oci_spec::image::Digest = digest
            .parse()
            .map_err(|e| Error::io("parse digest", Path::new(digest), io::Error::other(e)))?;
        oci_spec::image::DescriptorBuilder::default()
            .media_type(media)
            .digest(digest)
            .size(size)
            .build()
            .map_err(spec_err)
    };
    let layer_descriptors = layers
        .iter()
        .map(|l| descriptor(MediaType::from(l.media_type), l.digest, l.size))
        .collect::<Result<Vec<_>>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, config.0, config.1)?)
        .layers(layer_descriptors)
        .annotations(
            annotations(recipe, stamp)
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .build()
        .map_err(spec_err)?;
    Ok(canonical(&manifest))
}

/// Seconds since the epoch as RFC 3339 (`1970-01-01T00:00:00Z`).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn users_resolve_by_name_and_root_is_refused() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n";
        let mut recipe = Recipe::from_toml_str("", Path::new("/")).unwrap();
        recipe.config.user = Some("app:app".into());
        assert_eq!(
            resolve_user(&recipe, None, Some(passwd)).unwrap(),
            "10001:app"
        );
        recipe.config.user = Some("root".into());
        assert!(matches!(
            resolve_user(&recipe, None, Some(passwd)),
            Err(RecipeError::RootUser { .. })
        ));
        recipe.config.user = Some("nobody2".into());
        assert_eq!(
            resolve_user(&recipe, None, Some(passwd))
                .unwrap_err()
                .to_string(),
            "image config user `nobody2` is not in the base image's /etc/passwd; use a numeric uid such as \"10001\""
        );
        recipe.config.user = None;
        assert_eq!(
            resolve_user(&recipe, None, None).unwrap_err().to_string(),
            "the image has no user and would run as root; set `user` in [config] to a non-root uid such as \"10001\""
        );
    }
}

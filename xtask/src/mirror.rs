//! `cargo xtask bases --seed-mirror HOST:PORT`: the offline bases pushed
//! into a local Docker Hub mirror under the public names the reference
//! app's recipes give (`python:3.11-slim-bookworm`, ...), so that CI builds
//! the default recipes as they are.
//!
//! These are stand-ins, not the upstream images: Debian bookworm's own
//! packages (python3 3.11, nodejs 18.19, postgresql-15) in one layer, with
//! an image config that gives the recipes what they rely on: PATH, the
//! postgres user's uid 999, the default command. hoist builds each one from
//! its tarball (the same layer a `rootfs` base gives) and pushes it with its
//! own registry delivery, which sends only the blobs the mirror lacks and
//! compresses each layer once per machine; then the manifest is tagged with
//! the public tag. Unlike the upstream images, whose default user is root,
//! a stand-in names a non-root user: hoist builds no image that runs as
//! root. The reference app's recipes set their own user either way.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use hoist_cluster::deliver::{ImageSource, Loader, RegistryLoader, RegistryTarget};
use hoist_imager::{BuildOptions, NoReporter, Recipe};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

/// One stand-in: which offline base, the public name, and the recipe that
/// gives it its config (the base comes from the tarball).
struct StandIn {
    base: &'static str,
    repository: &'static str,
    tag: &'static str,
    recipe: &'static str,
}

const STAND_INS: &[StandIn] = &[
    StandIn {
        base: "python",
        repository: "library/python",
        tag: "3.11-slim-bookworm",
        recipe: r#"
[config]
user = "nobody"
env = { LANG = "C.UTF-8" }
cmd = ["python3"]
"#,
    },
    StandIn {
        base: "node",
        repository: "library/node",
        tag: "20-bookworm-slim",
        recipe: r#"
[config]
user = "nobody"
cmd = ["node"]

[secrets]
# Debian's Node type definitions document `user:pass@host` URLs.
allow = [{ path = "/usr/share/nodejs/@types/node/**", rule = "url-credentials" }]
"#,
    },
    StandIn {
        base: "postgres",
        repository: "library/postgres",
        tag: "15-bookworm",
        // The entrypoint is the recipe's own: Debian's package has none.
        recipe: r#"
[config]
user = "999:999"
env = { PATH = "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", PGDATA = "/var/lib/postgresql/data", LANG = "C.UTF-8" }
ports = [5432]
cmd = ["postgres"]
"#,
    },
];

/// Where the stand-ins' recipes are written down, for their source annotation.
const SOURCE: &str = "https://github.com/hoist-dev/hoist/blob/main/xtask/src/mirror.rs";

/// Checks that the Docker Hub mirror in `HOIST_REGISTRY_MIRRORS` (`mirrors`
/// when given, else the environment's) serves every public base of the
/// reference app, so that building it cannot fail half-way on a pull.
pub(crate) fn check_app_bases(mirrors: Option<&str>) -> anyhow::Result<()> {
    let var = hoist_testkit::mirror::MIRRORS.var;
    let mirrors = match mirrors {
        Some(mirrors) => mirrors.to_owned(),
        None => std::env::var(var).with_context(|| {
            format!(
                "{var} is not set: the reference app's bases come from a Docker Hub mirror here; `source /var/lib/hoist-ci/env` (after .ci/setup.sh)"
            )
        })?,
    };
    hoist_testkit::mirror::check(&mirrors, &hoist_testkit::mirror::app_public_bases())
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

/// Builds and pushes the stand-ins of `bases` (tarballs in `dir`) to the
/// mirror at `address`; plain HTTP for a loopback mirror, as hoist pulls.
pub(crate) fn seed(dir: &Path, address: &str, bases: &[&str]) -> anyhow::Result<()> {
    let work = dir.join("mirror");
    let cache = work.join("cache");
    let host = address.trim_end_matches('/');
    let loopback = hoist_imager::registries::is_loopback(host);
    let loader =
        RegistryLoader::new(RegistryTarget::parse(host, loopback, None)).with_cache_dir(&cache);
    let client = Client::new(ClientConfig {
        protocol: if loopback {
            ClientProtocol::HttpsExcept(vec![host.to_owned()])
        } else {
            ClientProtocol::Https
        },
        ..ClientConfig::default()
    });
    let runtime = tokio::runtime::Runtime::new()?;
    println!(
        "{:<42} {:>10} {:>9}  digest",
        "mirror image", "sent", "time"
    );
    for stand_in in STAND_INS.iter().filter(|s| bases.contains(&s.base)) {
        let started = Instant::now();
        let name = format!("{host}/{}:{}", stand_in.repository, stand_in.tag);
        let built = build(stand_in, dir, &work, &cache)
            .with_context(|| format!("failed to build the stand-in for {name}"))?;
        let image = ImageSource {
            layout: built.layout,
            archive: built.archive,
            name: stand_in.repository.to_owned(),
        }
        .open()?;
        let delivered = runtime
            .block_on(loader.deliver(&image, &NoReporter))
            .with_context(|| format!("failed to push {name}"))?;
        runtime
            .block_on(tag(&client, host, stand_in, &delivered.digest))
            .with_context(|| format!("failed to tag {name}"))?;
        println!(
            "{:<42} {:>7.1} MB {:>8.1}s  {}",
            format!("{}:{}", stand_in.repository, stand_in.tag),
            delivered.bytes_sent as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            delivered.digest
        );
    }
    Ok(())
}

/// The stand-in as hoist builds it: the tarball's one layer and the config.
fn build(
    stand_in: &StandIn,
    dir: &Path,
    work: &Path,
    cache: &Path,
) -> anyhow::Result<hoist_imager::Built> {
    let tarball = dir.join(format!("{}.tar", stand_in.base));
    let text = format!(
        "base = {{ rootfs = {:?} }}\nbudget = {{ uncompressed = \"1GB\" }}\n{}\n[annotations]\nsource = {SOURCE:?}\n",
        tarball.display().to_string(),
        stand_in.recipe
    );
    let recipe = Recipe::from_toml_str(&text, dir)?;
    let mut options = BuildOptions::new(stand_in.base, work.join(stand_in.base));
    options.cache_dir = cache.to_path_buf();
    options.source_date_epoch = 0;
    options.repository = Some(stand_in.repository.to_owned());
    Ok(hoist_imager::build(&recipe, &options, &NoReporter)?)
}

/// Points the public tag at `digest` (already in the repository) unless it
/// does already.
async fn tag(client: &Client, host: &str, stand_in: &StandIn, digest: &str) -> anyhow::Result<()> {
    let auth = RegistryAuth::Anonymous;
    let repository = stand_in.repository.to_owned();
    let by_tag = Reference::with_tag(host.to_owned(), repository.clone(), stand_in.tag.to_owned());
    if client
        .fetch_manifest_digest(&by_tag, &auth)
        .await
        .is_ok_and(|current| current == digest)
    {
        return Ok(());
    }
    let by_digest = Reference::with_digest(host.to_owned(), repository, digest.to_owned());
    let media_type = "application/vnd.oci.image.manifest.v1+json";
    let (manifest, _) = client
        .pull_manifest_raw(&by_digest, &auth, &[media_type])
        .await?;
    client
        .push_manifest_raw(&by_tag, manifest, media_type.parse()?)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_base_of_the_reference_app_has_a_stand_in() {
        let mut named: Vec<(String, String)> = hoist_testkit::mirror::app_public_bases()
            .into_iter()
            .map(|app| (app.base.repository, app.base.tag))
            .collect();
        let mut seeded: Vec<(String, String)> = STAND_INS
            .iter()
            .map(|s| (s.repository.to_owned(), s.tag.to_owned()))
            .collect();
        named.sort();
        seeded.sort();
        assert_eq!(named, seeded);
    }

    #[test]
    fn every_stand_in_recipe_parses() {
        for stand_in in STAND_INS {
            let text = format!("base = \"scratch\"\n{}", stand_in.recipe);
            Recipe::from_toml_str(&text, Path::new("/")).unwrap();
        }
    }
}

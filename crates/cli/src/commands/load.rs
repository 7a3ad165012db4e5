//! `hoist load`: deliver one built image to the cluster.
//!
//! Input for now is an image as files (`--layout`, `--archive`, `--name`);
//! `hoist build` will hand its images over directly.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context as _;
use hoist_cluster::deliver::{self, Destination, ImageSource, RegistryTarget};
use hoist_cluster::docker::DockerEndpoint;
use hoist_cluster::env::Environment;
use hoist_cluster::target::{self, Target};

use crate::cli::{Global, LoadArgs, LoadTarget};
use crate::progress::Bars;

pub(crate) async fn run(global: &Global, args: &LoadArgs) -> anyhow::Result<ExitCode> {
    let image = ImageSource {
        layout: args.layout.clone(),
        archive: args.archive.clone(),
        name: args.name.clone(),
    }
    .open()?;
    let env = Environment::current();
    let destination = destination(&env, args).await?;
    let loader = deliver::open(destination).await?;
    let bars = Bars::new(!global.json && std::io::stderr().is_terminal());
    let delivered = loader
        .deliver(&image, &bars)
        .await
        .with_context(|| format!("failed to deliver {} to {}", args.name, loader.target()))?;
    if global.json {
        let report = serde_json::json!({
            "target": loader.target(),
            "images": [{
                "name": args.name,
                "digest": delivered.digest,
                "reference": delivered.reference,
                "bytes_sent": delivered.bytes_sent,
                "skipped": delivered.skipped,
                "via": delivered.via,
            }],
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let sent = if delivered.skipped {
            "already there, nothing sent".to_owned()
        } else {
            format!("{} bytes sent", delivered.bytes_sent)
        };
        println!("{}  {}  ({sent})", args.name, delivered.reference);
    }
    Ok(ExitCode::SUCCESS)
}

async fn destination(env: &Environment, args: &LoadArgs) -> anyhow::Result<Destination> {
    let docker = DockerEndpoint::from_env(env);
    let registry = registry(args)?;
    Ok(match args.target {
        Some(LoadTarget::Docker) => Destination::Daemon(docker),
        Some(LoadTarget::Kind) => Destination::Containerd {
            docker,
            node: format!(
                "{}-control-plane",
                args.cluster.as_deref().unwrap_or("kind")
            ),
        },
        Some(LoadTarget::K3d) => Destination::Containerd {
            docker,
            node: format!(
                "k3d-{}-server-0",
                args.cluster.as_deref().unwrap_or("k3s-default")
            ),
        },
        Some(LoadTarget::Registry) => Destination::Registry(
            registry.context("--target registry needs --registry HOST[/PREFIX]")?,
        ),
        Some(LoadTarget::Minikube) => {
            let detected = target::detect(env, args.context.as_deref()).await?;
            if !matches!(detected.target, Target::Minikube(_)) {
                anyhow::bail!(
                    "context {:?} is not a Minikube cluster: {}; choose another --target",
                    detected.context,
                    detected.evidence.join("; ")
                );
            }
            detected.destination(env, None)?
        }
        None => {
            let detected = target::detect(env, args.context.as_deref()).await?;
            detected.destination(env, registry)?
        }
    })
}

fn registry(args: &LoadArgs) -> anyhow::Result<Option<RegistryTarget>> {
    crate::deploy::registry_target(
        args.registry.as_deref(),
        args.insecure_registry,
        args.registry_user.as_deref(),
    )
}

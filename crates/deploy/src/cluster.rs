//! Reaching the cluster: the kubeconfig, its context, an API server that
//! answers within seconds, the detected target and how images get there.

use std::path::PathBuf;
use std::time::Duration;

use hoist_cluster::deliver::{DeliverError, Destination, RegistryCredentials, RegistryTarget};
use hoist_cluster::env::Environment;
use hoist_cluster::helm::Helm;
use hoist_cluster::kubeconfig::{self, ContextInfo, LoadedKubeconfig};
use hoist_cluster::rollout;
use hoist_cluster::target::{self, Detection};
use hoist_config::Stack;

use crate::{Error, Result};

/// The variable holding the registry password, so it never appears in `ps`
/// or in hoist.toml.
pub const REGISTRY_PASSWORD_VAR: &str = "HOIST_REGISTRY_PASSWORD";

/// Which cluster, and how images reach it.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Where KUBECONFIG, DOCKER_HOST, MINIKUBE_HOME, PATH and HOME come from.
    pub env: Environment,
    /// The kube context (the kubeconfig's current one when `None`).
    pub context: Option<String>,
    /// `--registry`: wins over the stack's `[registry]` and over local loading.
    pub registry: Option<RegistryTarget>,
    /// How long the API server may take to answer before it counts as down.
    pub connect_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            env: Environment::current(),
            context: None,
            registry: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A registry from `[registry]` in hoist.toml, its password from
/// [`REGISTRY_PASSWORD_VAR`].
#[must_use]
pub fn stack_registry(stack: &Stack, env: &Environment) -> Option<RegistryTarget> {
    let registry = stack.registry.as_ref()?;
    let credentials = registry.user.as_ref().map(|user| RegistryCredentials {
        user: user.clone(),
        password: env.var(REGISTRY_PASSWORD_VAR).unwrap_or_default(),
    });
    Some(RegistryTarget::parse(
        registry.address.get_ref(),
        registry.insecure,
        credentials,
    ))
}

/// A connected cluster.
pub(crate) struct Cluster {
    pub(crate) context: ContextInfo,
    pub(crate) target: rollout::Target,
}

/// Loads the kubeconfig, checks that the context's API server answers
/// within the timeout, and finds helm.
///
/// # Errors
///
/// [`Error::NoCluster`] when there is no kubeconfig, no usable context or
/// the API server does not answer; [`Error::Cluster`] when helm is missing.
pub(crate) async fn connect(stack: &Stack, options: &ClusterOptions) -> Result<Cluster> {
    connect_to(&stack.namespace, options).await
}

/// As [`connect`], for `namespace` without a stack.
///
/// # Errors
///
/// As [`connect`].
pub(crate) async fn connect_to(namespace: &str, options: &ClusterOptions) -> Result<Cluster> {
    let no_cluster = |error: &dyn std::fmt::Display| Error::NoCluster {
        reason: error.to_string(),
    };
    let kubeconfig = kubeconfig::load(&options.env).map_err(|e| no_cluster(&e))?;
    let context = kubeconfig
        .context(options.context.as_deref())
        .map_err(|e| no_cluster(&e))?;
    kubeconfig
        .probe(&context, options.connect_timeout)
        .await
        .map_err(|e| no_cluster(&e))?;
    let client = client(&kubeconfig, &context, options.connect_timeout).await?;
    let helm = Helm::find(
        &options.env,
        single(&kubeconfig.paths),
        Some(context.name.clone()),
    )
    .map_err(hoist_cluster::Error::from)?;
    Ok(Cluster {
        target: rollout::Target {
            client,
            helm,
            namespace: namespace.to_owned(),
        },
        context,
    })
}

/// A client whose connection attempts give up after `timeout` but whose
/// reads may last (watches, `logs -f`).
async fn client(
    kubeconfig: &LoadedKubeconfig,
    context: &ContextInfo,
    timeout: Duration,
) -> Result<kube::Client> {
    kubeconfig::install_crypto_provider();
    let options = kube::config::KubeConfigOptions {
        context: Some(context.name.clone()),
        ..kube::config::KubeConfigOptions::default()
    };
    let unusable = |reason: String| Error::NoCluster {
        reason: format!("context {:?} cannot be used: {reason}", context.name),
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig.config.clone(), &options)
        .await
        .map_err(|e| unusable(e.to_string()))?;
    config.connect_timeout = Some(timeout);
    config.read_timeout = None;
    kube::Client::try_from(config).map_err(|e| unusable(e.to_string()))
}

/// helm takes one `--kubeconfig`; with a list in KUBECONFIG it reads the
/// variable itself.
fn single(paths: &[PathBuf]) -> Option<PathBuf> {
    match paths {
        [one] => Some(one.clone()),
        _ => None,
    }
}

impl Cluster {
    /// Detects the target by probing and decides where images go: the
    /// registry given (`--registry`, then `[registry]`), else the target's
    /// local loader.
    ///
    /// # Errors
    ///
    /// [`Error::NoImagePath`] for a cluster that needs a registry and has
    /// none; [`Error::Cluster`] when detection cannot read its inputs.
    pub(crate) async fn destination(
        &self,
        stack: &Stack,
        options: &ClusterOptions,
    ) -> Result<(Detection, Destination)> {
        let detection = target::detect(&options.env, Some(&self.context.name)).await?;
        let registry = options
            .registry
            .clone()
            .or_else(|| stack_registry(stack, &options.env));
        match detection.destination(&options.env, registry) {
            Ok(destination) => Ok((detection, destination)),
            Err(DeliverError::RegistryNeeded { context, reason }) => Err(Error::NoImagePath {
                context,
                reason,
                file: stack.path.clone(),
            }),
            Err(other) => Err(hoist_cluster::Error::from(other).into()),
        }
    }
}

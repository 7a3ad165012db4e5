//! Integration tests for hoist-cluster against real components: dockerd, an
//! OCI registry with and without basic auth, skopeo and umoci.
//!
//! Run with `source /var/lib/hoist-ci/env && cargo test -p hoist-cluster --test it`.

mod containerd;
mod daemon;
mod detect;
mod minikube;
mod registry;
mod rollout;
mod support;

use std::time::Duration;

use hoist_cluster::docker::DockerEndpoint;

/// The test daemon, connected, or `None` to skip.
async fn docker() -> Option<(bollard::Docker, String)> {
    let host = hoist_testkit::service(hoist_testkit::DOCKER)?;
    let endpoint = DockerEndpoint {
        host: host.clone(),
        tls: None,
    };
    let (docker, _) = endpoint
        .connect(Duration::from_secs(10))
        .await
        .expect("connect to dockerd");
    Some((docker, host))
}

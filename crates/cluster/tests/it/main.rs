//! Integration tests for hoist-cluster against real components: dockerd, an
//! OCI registry with and without basic auth, skopeo and umoci.
//!
//! Run with `source /var/lib/hoist-ci/env && cargo test -p hoist-cluster --test it`.

mod containerd;
mod daemon;
mod detect;
mod minikube;
mod registry;
mod support;

use hoist_cluster::deliver::DaemonEndpoint;

/// The test daemon, connected, or `None` to skip.
async fn docker() -> Option<(bollard::Docker, String)> {
    let host = hoist_testkit::service(hoist_testkit::DOCKER)?;
    let endpoint = DaemonEndpoint {
        host: host.clone(),
        tls: None,
    };
    Some((endpoint.connect().await.expect("connect to dockerd"), host))
}

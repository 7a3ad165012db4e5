//! Target detection: kind and k3d nodes found on the real dockerd.

use hoist_cluster::deliver::{DaemonLoader, Loader};
use hoist_cluster::target::{Delivery, Facts, Target, classify, node_containers};
use hoist_imager::NoReporter;

use crate::support::{Container, busybox_image, unique};

#[tokio::test]
async fn kind_and_k3d_nodes_are_found_by_label_and_published_port() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let image = busybox_image(&unique("hoist-test/kindnode"), &[]);
    let reference = DaemonLoader::new(docker.clone(), host.clone())
        .deliver(&image.image, &NoReporter)
        .await
        .unwrap()
        .reference;
    let kind = unique("kd");
    let k3d = unique("kt");
    let kind_node = Container::start(
        &host,
        &reference,
        &format!("{kind}-control-plane"),
        &[("io.x-k8s.kind.cluster", &kind)],
    );
    let k3d_node = Container::start(
        &host,
        &reference,
        &format!("k3d-{k3d}-server-0"),
        &[("k3d.cluster", &k3d)],
    );
    // Named like a kind node, but not labelled as one: not a kind cluster.
    let impostor = unique("imp");
    let _impostor_node =
        Container::start(&host, &reference, &format!("{impostor}-control-plane"), &[]);

    let nodes = node_containers(&docker, &host).await.unwrap();
    let facts = |context: String, port: u16| Facts {
        context,
        server: format!("https://127.0.0.1:{port}"),
        nodes: nodes.clone(),
        ..Facts::default()
    };

    let detected = classify(&facts(format!("kind-{kind}"), kind_node.api_port()), &host);
    assert_eq!(
        detected.target,
        Target::Kind {
            cluster: kind.clone(),
            node: kind_node.name.clone()
        }
    );
    assert_eq!(
        detected.delivery,
        Delivery::Containerd {
            node: kind_node.name.clone()
        }
    );
    assert_eq!(
        detected.evidence,
        [
            format!(
                "container {} is running with label io.x-k8s.kind.cluster={kind}",
                kind_node.name
            ),
            format!(
                "the API server https://127.0.0.1:{} is published by the cluster's containers",
                kind_node.api_port()
            ),
        ]
    );

    let detected = classify(&facts(format!("k3d-{k3d}"), k3d_node.api_port()), &host);
    assert_eq!(
        detected.target,
        Target::K3d {
            cluster: k3d.clone(),
            node: k3d_node.name.clone()
        }
    );

    // The kind context name, but the API server is elsewhere: remote.
    let detected = classify(&facts(format!("kind-{kind}"), 1), &host);
    assert!(
        matches!(detected.target, Target::Remote { .. }),
        "{detected:?}"
    );

    let detected = classify(&facts(format!("kind-{impostor}"), 1), &host);
    assert!(
        matches!(detected.target, Target::Remote { .. }),
        "{detected:?}"
    );
}

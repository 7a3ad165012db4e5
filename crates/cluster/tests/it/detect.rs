//! Target detection: kind and k3d nodes found on the real dockerd, Minikube
//! profiles, Docker Desktop, and nodes whose kubelet runs on the reachable
//! Docker daemon (fixtures here, the real daemon in `docker_node`).

use hoist_cluster::deliver::{DaemonLoader, Destination, Loader, RegistryTarget};
use hoist_cluster::docker::{DockerEndpoint, TlsFiles};
use hoist_cluster::env::Environment;
use hoist_cluster::target::{
    Delivery, Facts, MinikubeFacts, Target, classify, detect, node_containers,
};
use hoist_imager::NoReporter;

use crate::support::{Container, busybox_image, unique};

mod docker_node;

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

    // The same, end to end from a kubeconfig naming the published port.
    let dir = tempfile::tempdir().unwrap();
    let server = format!("https://127.0.0.1:{}", kind_node.api_port());
    let env = fixture(dir.path(), &format!("kind-{kind}"), &server, &host);
    let detected = detect(&env, None).await.unwrap();
    assert_eq!(
        detected.destination(&env, None).unwrap(),
        Destination::Containerd {
            docker: DockerEndpoint {
                host: host.clone(),
                tls: None
            },
            node: kind_node.name.clone()
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

fn minikube(driver: &str, runtime: &str, node_ip: &str) -> MinikubeFacts {
    MinikubeFacts {
        profile: "dev".into(),
        driver: driver.into(),
        runtime: runtime.into(),
        node_ip: Some(node_ip.into()),
        docker_host: (runtime == "docker").then(|| format!("tcp://{node_ip}:2376")),
        cert_dir: (runtime == "docker").then(|| "/home/u/.minikube/certs".into()),
    }
}

#[test]
fn minikube_is_detected_per_driver_and_runtime_with_its_delivery_path() {
    let cases = [
        // driver, runtime, server, expected delivery
        (
            "kvm2",
            "docker",
            "https://192.168.39.10:8443",
            Delivery::Daemon {
                host: "tcp://192.168.39.10:2376".into(),
                cert_dir: Some("/home/u/.minikube/certs".into()),
            },
        ),
        (
            "docker",
            "docker",
            "https://127.0.0.1:32771",
            Delivery::Daemon {
                host: "tcp://192.168.49.2:2376".into(),
                cert_dir: Some("/home/u/.minikube/certs".into()),
            },
        ),
        (
            "docker",
            "containerd",
            "https://127.0.0.1:32771",
            Delivery::Containerd { node: "dev".into() },
        ),
        (
            "kvm2",
            "containerd",
            "https://192.168.39.10:8443",
            Delivery::MinikubeCli {
                profile: "dev".into(),
            },
        ),
        (
            "qemu2",
            "cri-o",
            "https://192.168.105.2:8443",
            Delivery::MinikubeCli {
                profile: "dev".into(),
            },
        ),
    ];
    for (driver, runtime, server, delivery) in cases {
        let ip = if driver == "docker" {
            "192.168.49.2"
        } else {
            server
                .trim_start_matches("https://")
                .split(':')
                .next()
                .unwrap()
        };
        let facts = Facts {
            context: "dev".into(),
            server: server.into(),
            minikube: Some(minikube(driver, runtime, ip)),
            ..Facts::default()
        };
        let detected = classify(&facts, "unix:///var/run/docker.sock");
        assert_eq!(
            detected.target,
            Target::Minikube(minikube(driver, runtime, ip)),
            "{driver}/{runtime}"
        );
        assert_eq!(detected.delivery, delivery, "{driver}/{runtime}");
        assert_eq!(
            detected.evidence[..2],
            [
                format!("Minikube profile \"dev\": driver {driver}, runtime {runtime}"),
                format!("the API server {server} is the profile's node"),
            ]
        );
    }
}

#[test]
fn a_minikube_profile_that_does_not_serve_the_context_is_not_trusted() {
    let facts = Facts {
        context: "dev".into(),
        server: "https://10.0.0.5:6443".into(),
        minikube: Some(minikube("kvm2", "docker", "192.168.39.10")),
        ..Facts::default()
    };
    let detected = classify(&facts, "unix:///var/run/docker.sock");
    assert_eq!(
        detected.target,
        Target::Remote {
            server: "https://10.0.0.5:6443".into()
        }
    );
    assert_eq!(detected.delivery, Delivery::Registry);
    assert_eq!(
        detected.evidence,
        [
            "Minikube profile \"dev\": driver kvm2, runtime docker",
            "but the API server https://10.0.0.5:6443 is not the profile's node 192.168.39.10",
            "no Minikube profile, kind or k3d node, or Docker Desktop serves https://10.0.0.5:6443; images go through a registry",
        ]
    );
}

#[test]
fn docker_desktop_is_recognised_by_its_daemon_not_its_context_name() {
    let facts = |os: &str| Facts {
        context: "docker-desktop".into(),
        server: "https://kubernetes.docker.internal:6443".into(),
        docker_os: Some(os.into()),
        ..Facts::default()
    };
    let detected = classify(&facts("Docker Desktop"), "unix:///var/run/docker.sock");
    assert_eq!(detected.target, Target::DockerDesktop);
    assert_eq!(
        detected.delivery,
        Delivery::Daemon {
            host: "unix:///var/run/docker.sock".into(),
            cert_dir: None
        }
    );
    let json = serde_json::to_value(&detected).unwrap();
    assert_eq!(json["target"]["kind"], "docker-desktop");
    assert_eq!(json["delivery"]["via"], "daemon");
    assert_eq!(
        json["evidence"][0],
        "the local Docker daemon is Docker Desktop and serves the API server https://kubernetes.docker.internal:6443"
    );

    let detected = classify(&facts("Debian GNU/Linux 12 (bookworm)"), "unix:///x");
    assert!(matches!(detected.target, Target::Remote { .. }));
}

/// A kubeconfig with one context `name` pointing at `server`, and a
/// Minikube home; returns the environment that finds both.
fn fixture(dir: &std::path::Path, name: &str, server: &str, docker_host: &str) -> Environment {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
current-context: {name}
clusters:
- name: {name}
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}
users:
- name: {name}
  user:
    token: {}
",
            hoist_testkit::fake_secret("fake-", 16, 3)
        ),
    )
    .unwrap();
    Environment::from_pairs([
        ("HOME", dir.to_str().unwrap()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
        ("DOCKER_HOST", docker_host),
    ])
    .with("MINIKUBE_HOME", dir.join(".minikube").to_str().unwrap())
}

/// A Minikube profile `name` with fake TLS files under the fixture's home.
fn minikube_profile(dir: &std::path::Path, name: &str, driver: &str, runtime: &str, ip: &str) {
    let home = dir.join(".minikube");
    let profile = home.join("profiles").join(name);
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(
        profile.join("config.json"),
        serde_json::json!({
            "Name": name,
            "Driver": driver,
            "KubernetesConfig": {"KubernetesVersion": "v1.31.0", "ContainerRuntime": runtime},
            "Nodes": [{"Name": "", "IP": ip, "Port": 8443, "ControlPlane": true}]
        })
        .to_string(),
    )
    .unwrap();
    let certs = home.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(certs.join(file), "fake test material, not a certificate").unwrap();
    }
}

/// A daemon address nobody answers on, for cases that must not need Docker.
const NO_DOCKER: &str = "unix:///nonexistent/docker.sock";

#[tokio::test]
async fn minikube_profiles_on_disk_decide_the_delivery_path() {
    let cases = [
        ("kvm2", "docker", "192.168.39.10"),
        ("kvm2", "containerd", "192.168.39.10"),
        ("docker", "containerd", "192.168.49.2"),
        ("qemu2", "cri-o", "192.168.105.2"),
    ];
    for (driver, runtime, ip) in cases {
        let dir = tempfile::tempdir().unwrap();
        let server = format!("https://{ip}:8443");
        let env = fixture(dir.path(), "dev", &server, NO_DOCKER);
        minikube_profile(dir.path(), "dev", driver, runtime, ip);
        let detected = detect(&env, None).await.unwrap();
        let Target::Minikube(facts) = &detected.target else {
            panic!("{driver}/{runtime}: {detected:?}");
        };
        assert_eq!(facts.driver, driver);
        assert_eq!(facts.runtime, runtime);
        let destination = detected.destination(&env, None).unwrap();
        let expected = match (driver, runtime) {
            ("kvm2", "docker") => Destination::Daemon(DockerEndpoint {
                host: "tcp://192.168.39.10:2376".into(),
                tls: Some(TlsFiles::in_dir(&dir.path().join(".minikube/certs"))),
            }),
            ("docker", "containerd") => Destination::Containerd {
                docker: DockerEndpoint {
                    host: NO_DOCKER.into(),
                    tls: None,
                },
                node: "dev".into(),
            },
            _ => Destination::MinikubeCli {
                profile: "dev".into(),
            },
        };
        assert_eq!(destination, expected, "{driver}/{runtime}");
        assert!(
            detected.evidence[0].starts_with("the local Docker daemon did not answer"),
            "{:?}",
            detected.evidence
        );
    }
}

#[tokio::test]
async fn minikubes_docker_driver_daemon_is_found_on_its_published_port() {
    let Some((docker, host)) = crate::docker().await else {
        return;
    };
    let image = busybox_image(&unique("hoist-test/mknode"), &[]);
    let reference = DaemonLoader::new(docker, host.clone())
        .deliver(&image.image, &NoReporter)
        .await
        .unwrap()
        .reference;
    let profile = unique("mk");
    let node = Container::run(
        &host,
        &profile,
        &["-p", "127.0.0.1::2376", &reference, "sleep", "600"].map(str::to_owned),
    );
    let published = node.docker(&["port", &profile, "2376/tcp"]);
    let port = published.trim().rsplit(':').next().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let env = fixture(dir.path(), &profile, "https://127.0.0.1:40000", &host);
    minikube_profile(dir.path(), &profile, "docker", "docker", "192.168.49.2");
    let detected = detect(&env, Some(&profile)).await.unwrap();
    assert_eq!(
        detected.delivery,
        Delivery::Daemon {
            host: format!("tcp://127.0.0.1:{port}"),
            cert_dir: Some(dir.path().join(".minikube/certs")),
        }
    );

    // The TLS material `minikube docker-env` would name is checked before use.
    std::fs::remove_file(dir.path().join(".minikube/certs/key.pem")).unwrap();
    let error = hoist_cluster::deliver::open(detected.destination(&env, None).unwrap())
        .await
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        error,
        format!(
            "TLS file {} for the Docker daemon at tcp://127.0.0.1:{port} does not exist; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem",
            dir.path().join(".minikube/certs/key.pem").display()
        )
    );
}

#[tokio::test]
async fn a_remote_cluster_needs_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let env = fixture(dir.path(), "prod", "https://10.1.2.3:6443", NO_DOCKER);
    let detected = detect(&env, None).await.unwrap();
    assert_eq!(
        detected.target,
        Target::Remote {
            server: "https://10.1.2.3:6443".into()
        }
    );
    let error = detected.destination(&env, None).unwrap_err().to_string();
    assert_eq!(
        error,
        "context \"prod\" needs a registry: no Minikube profile, kind or k3d node, or Docker Desktop serves https://10.1.2.3:6443; images go through a registry; give --registry HOST[/PREFIX]"
    );
    let registry = RegistryTarget::parse("127.0.0.1:5000", true, None);
    assert_eq!(
        detected.destination(&env, Some(registry.clone())).unwrap(),
        Destination::Registry(registry)
    );
}

//! The Helm charts in charts/, through real helm and kubernetes-validate.
//!
//! Run with `cargo nextest run -p hoist-e2e charts` (or `cargo test -p
//! hoist-e2e charts`). They need helm (`$HOIST_HELM` or `helm` on PATH, e.g.
//! `/opt/hoist-tools/bin`) and `kubernetes-validate` on PATH; without them they
//! skip, except under CI where they fail.

mod contract;
mod helm;
mod package;
mod policy;
mod probes;
mod rollout;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread;

use helm::{
    DEV, KUBE_1_20_API_VERSIONS, TIERS, Tools, UMBRELLA, VALUES, documents, identity, write,
};
use policy::Rendered;

const RELEASE: &str = "todo";

fn values_label(values: Option<&str>) -> &str {
    values.unwrap_or("values.yaml")
}

/// The three tier charts rendered from their sources with one values file, as
/// one stream: what the umbrella installs (see
/// `the_umbrella_renders_what_the_tiers_render_alone`), without its packaged copies.
fn stack(tools: &Tools, values: Option<&str>, extra: &[&str]) -> String {
    thread::scope(|s| {
        let handles: Vec<_> = TIERS
            .iter()
            .map(|tier| s.spawn(move || tools.render(RELEASE, tier, values, extra)))
            .collect();
        let parts: Vec<String> = handles
            .into_iter()
            .map(|h| h.join().expect("render thread"))
            .collect();
        parts.join("\n---\n")
    })
}

/// The stack with each values file.
fn stack_renders(tools: &Tools) -> Vec<(&'static str, String)> {
    VALUES
        .iter()
        .map(|values| (values_label(*values), stack(tools, *values, &[])))
        .collect()
}

fn assert_no_violations(what: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{what}:\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn every_chart_lints_strictly_with_each_of_its_values_files() {
    let Some(tools) = Tools::find() else { return };
    let charts = TIERS.iter().chain([&UMBRELLA]);
    let failures: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = charts
            .flat_map(|chart| VALUES.iter().map(move |values| (*chart, *values)))
            .map(|(chart, values)| {
                let tools = &tools;
                s.spawn(move || match tools.lint(chart, values) {
                    Ok(out) if out.contains("1 chart(s) linted, 0 chart(s) failed") => None,
                    Ok(out) | Err(out) => {
                        Some(format!("{chart} with {}:\n{out}", values_label(values)))
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("lint thread"))
            .collect()
    });
    assert_no_violations("helm lint --strict failed", &failures);
}

/// Renders every chart with every values file, plus umbrella variants that
/// switch on what the values files leave off, and validates all documents
/// against Kubernetes 1.28 and the newest schemas kubernetes-validate has.
#[test]
fn every_render_validates_against_kubernetes_1_28_and_the_newest_schemas() {
    let Some(tools) = Tools::find() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let digest_set = format!("todo-backend.image.digest={digest}");
    let variants: Vec<(String, &str, Option<&str>, Vec<&str>)> = TIERS
        .iter()
        .chain([&UMBRELLA])
        .flat_map(|chart| {
            VALUES.iter().map(move |v| {
                (
                    format!("{chart}-{}", values_label(*v).trim_end_matches(".yaml")),
                    *chart,
                    *v,
                    vec![],
                )
            })
        })
        .chain([
            (
                "umbrella-loadbalancer-ingress".to_owned(),
                UMBRELLA,
                None,
                vec![
                    "--set",
                    "todo-frontend.service.type=LoadBalancer",
                    "--set",
                    "todo-frontend.ingress.enabled=true",
                ],
            ),
            (
                "umbrella-external-database".to_owned(),
                UMBRELLA,
                None,
                vec![
                    "--set",
                    "todo-database.enabled=false",
                    "--set",
                    "todo-backend.database.fromSecret.enabled=false",
                    "--set",
                    "todo-backend.secret.existingSecret=todo-backend-env",
                    "--set",
                    "todo-backend.config.existingConfigMap=todo-backend-env",
                    "--set",
                    &digest_set,
                ],
            ),
            (
                "umbrella-ephemeral-database".to_owned(),
                UMBRELLA,
                None,
                vec!["--set", "todo-database.persistence.enabled=false"],
            ),
        ])
        .collect();
    let rendered: Vec<(PathBuf, usize)> = thread::scope(|s| {
        let handles: Vec<_> = variants
            .iter()
            .map(|(name, chart, values, extra)| {
                let (tools, dir) = (&tools, dir.path());
                s.spawn(move || {
                    let yaml = tools.render(RELEASE, chart, *values, extra);
                    let count = documents(&yaml).len();
                    assert!(count > 0, "{name} rendered no objects");
                    (write(dir, &format!("{name}.yaml"), &yaml), count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("render thread"))
            .collect()
    });
    let files: Vec<PathBuf> = rendered.iter().map(|(f, _)| f.clone()).collect();
    let total: usize = rendered.iter().map(|(_, n)| n).sum();
    let newest = tools.newest_kubernetes_version();
    assert_ne!(
        newest, "1.28.0",
        "kubernetes-validate should know versions past 1.28"
    );
    thread::scope(|s| {
        for version in ["1.28.0", newest.as_str()] {
            let (tools, files) = (&tools, &files);
            s.spawn(move || {
                let out = tools.validate(version, files);
                let stdout = String::from_utf8_lossy(&out.stdout);
                let report = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
                assert!(
                    out.status.success(),
                    "invalid for Kubernetes {version}:\n{report}"
                );
                // Every document must have been checked, not skipped for want of a schema.
                let passed = stdout.matches(" passed for resource ").count();
                assert_eq!(
                    passed, total,
                    "kubernetes-validate {version} checked {passed} of {total} objects:\n{report}"
                );
            });
        }
    });
}

/// Keys that appeared after Kubernetes 1.20 in the objects these charts make.
const NEWER_THAN_1_20: [&str; 14] = [
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds", // on a StatefulSet; Deployments had it always
    "ordinals",
    "internalTrafficPolicy",
    "trafficDistribution",
    "unhealthyPodEvictionPolicy",
    "grpc",
    "hostUsers",
    "os",
    "resizePolicy",
    "restartPolicy", // on a container (sidecars)
    "schedulingGates",
    "resourceClaims",
    "matchLabelKeys",
];

fn newer_keys(doc: &serde_yaml::Value, path: &str, found: &mut Vec<String>) {
    match doc {
        serde_yaml::Value::Mapping(map) => {
            for (key, value) in map {
                let key = key.as_str().unwrap_or_default();
                let here = format!("{path}.{key}");
                let deployment_field =
                    key == "minReadySeconds" && path.ends_with("Deployment.spec");
                let pod_field = key == "restartPolicy" && path.ends_with(".spec.template.spec");
                if NEWER_THAN_1_20.contains(&key) && !deployment_field && !pod_field {
                    found.push(here.clone());
                }
                newer_keys(value, &here, found);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                newer_keys(item, &format!("{path}[]"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn kubernetes_1_20_gets_the_old_pdb_and_hpa_apis_and_no_newer_fields() {
    let Some(tools) = Tools::find() else { return };
    let mut old_server = vec!["--kube-version", "1.20.0"];
    for api in KUBE_1_20_API_VERSIONS {
        old_server.extend(["--api-versions", api]);
    }
    let served_by_1_20 = [
        "v1/Secret",
        "v1/ConfigMap",
        "v1/Service",
        "apps/v1/Deployment",
        "apps/v1/StatefulSet",
        "networking.k8s.io/v1/Ingress",
        "policy/v1beta1/PodDisruptionBudget",
        "autoscaling/v2beta2/HorizontalPodAutoscaler",
    ];
    for values in VALUES {
        let yaml = stack(&tools, values, &old_server);
        let mut found = Vec::new();
        for doc in documents(&yaml) {
            let api = format!(
                "{}/{}",
                doc["apiVersion"].as_str().unwrap_or_default(),
                doc["kind"].as_str().unwrap_or_default()
            );
            if !served_by_1_20.contains(&api.as_str()) {
                found.push(format!(
                    "{}: {api} is not served by Kubernetes 1.20",
                    identity(&doc)
                ));
            }
            let root = doc["kind"].as_str().unwrap_or_default().to_owned();
            let mut newer = Vec::new();
            newer_keys(&doc, &root, &mut newer);
            found.extend(
                newer
                    .into_iter()
                    .map(|k| format!("{}: {k} is newer than Kubernetes 1.20", identity(&doc))),
            );
        }
        assert_no_violations(
            &format!("rendered with {} for Kubernetes 1.20", values_label(values)),
            &found,
        );
    }
    let count = |yaml: &str, api: &str| yaml.matches(&format!("apiVersion: {api}\n")).count();
    let old = stack(&tools, Some("values-production.yaml"), &old_server);
    assert_eq!(count(&old, "policy/v1beta1"), 2, "{old}");
    assert_eq!(count(&old, "autoscaling/v2beta2"), 2, "{old}");
    let new = stack(
        &tools,
        Some("values-production.yaml"),
        &["--kube-version", "1.28.0"],
    );
    assert_eq!(count(&new, "policy/v1"), 2, "{new}");
    assert_eq!(count(&new, "autoscaling/v2"), 2, "{new}");
}

/// Runs `check` on the stack rendered with each values file. `count` and
/// `expected` guard against a vacuous pass over an empty render.
fn check_stack(
    what: &str,
    count: fn(&Rendered) -> usize,
    expected: usize,
    check: fn(&Rendered) -> Vec<String>,
) {
    let Some(tools) = Tools::find() else { return };
    for (values, yaml) in stack_renders(&tools) {
        let rendered = Rendered::parse(&yaml);
        assert_eq!(count(&rendered), expected, "{what} with {values}");
        assert_no_violations(&format!("{what} with {values}"), &check(&rendered));
    }
}

#[test]
fn every_container_is_restricted_probed_and_bounded() {
    // Database, backend (with its init container) and frontend.
    check_stack(
        "containers",
        |r| r.workloads().len(),
        3,
        policy::container_violations,
    );
}

#[test]
fn every_object_and_pod_carries_the_recommended_labels() {
    check_stack(
        "labels",
        |r| r.workloads().len() + r.services.len() + r.config_maps.len(),
        9,
        policy::label_violations,
    );
}

#[test]
fn config_maps_hold_nothing_that_looks_secret() {
    check_stack(
        "ConfigMaps",
        |r| r.config_maps.len(),
        2,
        policy::config_map_violations,
    );
}

#[test]
fn selectors_services_ingress_hpa_and_pdb_reach_their_pods() {
    check_stack("wiring", |r| r.services.len(), 4, policy::wiring_violations);
}

#[test]
fn deployments_roll_and_drain_without_dropping_requests() {
    let Some(tools) = Tools::find() else { return };
    // Every values file but `hoist dev`'s, which the next test checks.
    for (values, yaml) in stack_renders(&tools) {
        if values == DEV {
            continue;
        }
        let rendered = Rendered::parse(&yaml);
        assert_eq!(rendered.deployments.len(), 2, "rollout with {values}");
        assert_no_violations(
            &format!("rollout with {values}"),
            &rollout::violations(&rendered),
        );
    }
    // The check bites: no drain, a short grace period, two pods unbudgeted.
    let yaml = tools.render(
        RELEASE,
        "todo-backend",
        None,
        &[
            "--set",
            "drain.seconds=0,terminationGracePeriodSeconds=5,replicaCount=2,podDisruptionBudget.enabled=false",
        ],
    );
    assert_eq!(
        rollout::violations(&Rendered::parse(&yaml)),
        [
            "Deployment/todo-todo-backend: no preStop drain through the image's runtime: None",
            "Deployment/todo-todo-backend: terminationGracePeriodSeconds under 30",
            "Deployment/todo-todo-backend: 2 replicas and 0 PodDisruptionBudgets (expected 1)",
        ]
    );
}

#[test]
fn hoist_devs_values_probe_every_second_without_an_init_container_or_a_drain_and_still_surge() {
    let Some(tools) = Tools::find() else { return };
    let base = Rendered::parse(&stack(&tools, None, &[]));
    let dev = Rendered::parse(&stack(&tools, Some(DEV), &[]));
    assert_eq!(dev.deployments.len(), 2);
    assert_no_violations(
        "the dev values against values.yaml",
        &rollout::dev_violations(&dev, &base),
    );
    // The check bites: values.yaml alone is no dev setting.
    let backend = "Deployment/todo-todo-backend";
    let found: Vec<String> = rollout::dev_violations(&base, &base)
        .into_iter()
        .filter(|v| v.starts_with(backend))
        .collect();
    assert_eq!(
        found,
        [
            format!("{backend}: the readiness probe does not run every second"),
            format!("{backend}: the startup probe does not run every second"),
            format!("{backend}: an init container in dev: wait-for-database"),
            format!(
                "{backend}: a preStop drain in dev: [\"python3\", \"-m\", \"todo_api\", \"drain\", \"10\"]"
            ),
            format!("{backend}: terminationGracePeriodSeconds Some(45), over 10"),
        ]
    );
    let hurried = Rendered::parse(&tools.render(
        RELEASE,
        "todo-backend",
        Some(DEV),
        &["--set", "probes.liveness.initialDelaySeconds=5"],
    ));
    assert_eq!(
        rollout::dev_violations(&hurried, &base),
        [format!(
            "{backend}: a slow start is restarted after 35 s, sooner than without the dev values (150 s)"
        )]
    );
}

#[test]
fn minikube_defaults_fit_the_sc1_budget() {
    let Some(tools) = Tools::find() else { return };
    let renders = stack_renders(&tools);
    for (values, yaml) in renders.iter().filter(|(v, _)| !v.contains("production")) {
        let b = policy::budget(&Rendered::parse(yaml));
        assert!(
            b.request_millicpu > 0 && b.request_bytes > 0,
            "{values}: {b:?}"
        );
        for (what, used, cap) in [
            ("CPU requests (millicores)", b.request_millicpu, 1000),
            ("memory requests (bytes)", b.request_bytes, 1 << 30),
            ("CPU limits (millicores)", b.limit_millicpu, 2000),
            ("memory limits (bytes)", b.limit_bytes, 2 << 30),
        ] {
            assert!(used <= cap, "{values}: {what} {used}, over SC-1's {cap}");
        }
    }
    // Production is sized up, so the budget check is not vacuous.
    let (_, production) = renders
        .iter()
        .find(|(v, _)| v.contains("production"))
        .expect("production render");
    assert!(policy::budget(&Rendered::parse(production)).request_millicpu > 1000);
}

#[test]
fn the_values_schemas_reject_wrong_types_with_helms_message() {
    let Some(tools) = Tools::find() else { return };
    let header =
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):";
    let cases = [
        (
            "todo-backend",
            "--set",
            "replicaCount=two",
            "todo-backend:\n- replicaCount: Invalid type. Expected: integer, given: string",
        ),
        (
            "todo-chatbot",
            "--set",
            "todo-backend.replicaCount=two",
            "todo-backend:\n- replicaCount: Invalid type. Expected: integer, given: string",
        ),
        (
            "todo-frontend",
            "--set",
            "service.type=Bogus",
            "todo-frontend:\n- service.type: service.type must be one of the following: \"ClusterIP\", \"NodePort\", \"LoadBalancer\"",
        ),
        (
            "todo-database",
            "--set-string",
            "persistence.enabled=yes",
            "todo-database:\n- persistence.enabled: Invalid type. Expected: boolean, given: string",
        ),
        (
            "todo-backend",
            "--set",
            "image.digest=latest",
            "todo-backend:\n- image.digest: Does not match pattern '^(sha256:[a-f0-9]{64})?$'",
        ),
    ];
    for (chart, flag, set, message) in cases {
        let err = tools
            .template(RELEASE, chart, None, &[flag, set])
            .expect_err(&format!("{chart} accepted {set}"));
        assert_eq!(err, format!("{header}\n{message}"), "{chart} {set}");
    }
}

#[test]
fn secret_looking_config_and_an_unreachable_database_are_refused() {
    let Some(tools) = Tools::find() else { return };
    let key = hoist_testkit::fake_secret("sk-", 32, 1);
    let cases = [
        (
            "todo-backend",
            format!("config.data.OPENAI_API_KEY={key}"),
            "Error: execution error at (todo-backend/templates/configmap.yaml:2:4): config.data.OPENAI_API_KEY looks secret: move it to secret.data (or to the Secret named by secret.existingSecret)",
        ),
        (
            "todo-frontend",
            "config.data.UPSTREAM=https://user:pw@example.test/".to_owned(),
            "Error: execution error at (todo-frontend/templates/configmap.yaml:2:4): config.data.UPSTREAM looks secret: move it to secret.data (or to the Secret named by secret.existingSecret)",
        ),
        (
            "todo-chatbot",
            "todo-database.enabled=false".to_owned(),
            "Error: execution error at (todo-chatbot/templates/validate.yaml:2:4): todo-database.enabled is false, so the backend's DATABASE_URL must come from elsewhere: set todo-backend.database.fromSecret.enabled=false and give DATABASE_URL in todo-backend.secret.data or in the Secret named by todo-backend.secret.existingSecret",
        ),
    ];
    for (chart, set, message) in cases {
        let err = tools
            .template(RELEASE, chart, None, &["--set", &set])
            .expect_err(&format!("{chart} accepted {set}"));
        assert_eq!(
            err,
            format!("{message}\n\nUse --debug flag to render out invalid YAML")
        );
        assert!(!err.contains(&key), "the error repeats the secret value");
    }
}

fn by_identity(yaml: &str) -> BTreeMap<String, serde_yaml::Value> {
    documents(yaml)
        .into_iter()
        .map(|d| (identity(&d), d))
        .collect()
}

#[test]
fn the_umbrella_renders_what_the_tiers_render_alone() {
    let Some(tools) = Tools::find() else { return };
    // Generated secrets differ per render; pin them on both sides.
    let password = hoist_testkit::fake_secret("", 24, 2);
    let jwt = hoist_testkit::fake_secret("", 48, 3);
    let db_set = format!("auth.password={password}");
    let jwt_set = format!("secret.data.JWT_SECRET={jwt}");
    let umbrella_db = format!("todo-database.{db_set}");
    let umbrella_jwt = format!("todo-backend.{jwt_set}");
    let mut differences = Vec::new();
    for values in VALUES {
        let umbrella = by_identity(&tools.render(
            RELEASE,
            UMBRELLA,
            values,
            &["--set", &umbrella_db, "--set", &umbrella_jwt],
        ));
        let mut alone = BTreeMap::new();
        for tier in TIERS {
            let extra: &[&str] = match tier {
                "todo-database" => &["--set", &db_set],
                "todo-backend" => &["--set", &jwt_set],
                _ => &[],
            };
            alone.extend(by_identity(&tools.render(RELEASE, tier, values, extra)));
        }
        let label = values_label(values);
        assert!(alone.len() >= 9, "{label}: {:?}", alone.keys());
        for id in umbrella
            .keys()
            .chain(alone.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            match (umbrella.get(id), alone.get(id)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(_), Some(_)) => differences.push(format!("{label}: {id} differs")),
                (Some(_), None) => differences.push(format!("{label}: {id} only in the umbrella")),
                _ => differences.push(format!("{label}: {id} missing from the umbrella")),
            }
        }
    }
    assert_no_violations(
        "the umbrella and the tiers alone render differently",
        &differences,
    );
}

#[test]
fn the_packaged_dependencies_match_their_sources() {
    assert_no_violations("packaged dependencies", &package::stale_packages());
}

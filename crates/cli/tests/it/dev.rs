//! `hoist dev` on a copy of the reference app on the real test cluster, one
//! session through the issue's cases in order: a backend source change
//! served through the forward with only the backend rebuilt, delivered and
//! rolled; a broken start-up reported while the old backend keeps serving,
//! then fixed; two quick saves; a `.env` change without a rebuild; SIGINT
//! leaving the release, and `--cleanup` removing it.
//!
//! The assertions read `hoist dev --events json` (one JSON object per line
//! on stdout), the forwarded URLs and the objects on the cluster.
//!
//! Run them with:
//! ```text
//! cargo xtask k8s up
//! source /var/lib/hoist-ci/env
//! HOIST_E2E_KUBECONFIG=/var/lib/hoist-k8s/kubeconfig \
//!   PATH=/opt/hoist-tools/bin:$PATH cargo nextest run -p hoist -E 'test(/^dev::/)'
//! ```

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::app::{App, free_port, http, text};
use crate::engine::{Cleanup, OnEngine};

/// The frontend's node port (30105-30109 are this suite's).
const NODE_PORT: u16 = 30105;

/// A running `hoist dev` and the events it printed so far.
struct Dev {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    /// Set once every line of stdout has been read: the process can exit
    /// before its last lines reach `events`.
    read_all: Arc<AtomicBool>,
}

/// A session a failed assertion leaves is killed, not leaked.
impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    fn start(app: &App, args: &[&str]) -> Self {
        let mut all = vec!["dev", "--events", "json"];
        all.extend_from_slice(args);
        let mut child = app
            .command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let read_all = Arc::new(AtomicBool::new(false));
        let at_end = Arc::clone(&read_all);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "event": "text", "text": line }));
                sink.lock().unwrap().push(value);
            }
            at_end.store(true, Ordering::SeqCst);
        });
        Self {
            child,
            events,
            read_all,
        }
    }

    fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Waits for an event at or after `from` that `matches`; returns its index and itself.
    fn wait(
        &mut self,
        from: usize,
        within: Duration,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> (usize, Value) {
        let deadline = Instant::now() + within;
        loop {
            // Read before looking: an exit seen after this read found every
            // line the process printed.
            let read_all = self.read_all.load(Ordering::SeqCst);
            {
                let events = self.events.lock().unwrap();
                if let Some((i, e)) = events
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, e)| matches(e))
                {
                    return (i, e.clone());
                }
            }
            if let (true, Ok(Some(status))) = (read_all, self.child.try_wait()) {
                panic!(
                    "hoist dev exited ({status}) while waiting for {what}: {:#?}",
                    self.tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}: {:#?}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn cycle_end(&mut self, from: usize, within: Duration, what: &str) -> (usize, Value) {
        self.wait(from, within, what, |e| {
            e["event"] == "cycle-finished" || e["event"] == "cycle-failed"
        })
    }

    /// The events from `from` on, without log lines.
    fn since(&self, from: usize) -> Vec<Value> {
        self.events.lock().unwrap()[from..]
            .iter()
            .filter(|e| e["event"] != "log")
            .cloned()
            .collect()
    }

    fn tail(&self) -> Vec<Value> {
        let events = self.since(0);
        events[events.len().saturating_sub(15)..].to_vec()
    }

    /// SIGINT, then the exit status and the final `stopped` event.
    fn interrupt(mut self) -> Value {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(kill.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "hoist dev after SIGINT: {status}");
        let (_, stopped) = self.wait(0, Duration::from_secs(10), "the stopped event", |e| {
            e["event"] == "stopped"
        });
        stopped
    }
}

fn cycles_started(dev: &Dev, from: usize) -> usize {
    dev.since(from)
        .iter()
        .filter(|e| e["event"] == "cycle-started")
        .count()
}

/// The pods the forward of `service` moved to since `from`, in order.
fn forwarded_to(dev: &Dev, from: usize, service: &str) -> Vec<String> {
    dev.since(from)
        .iter()
        .filter(|e| e["event"] == "forwarding-to" && e["service"] == service)
        .filter_map(|e| e["pod"].as_str().map(str::to_owned))
        .collect()
}

/// The names of the pods of `service`'s release, not terminating.
fn pod_names(app: &App, service: &str) -> Vec<String> {
    app.kubectl_items(
        "pods",
        &format!("app.kubernetes.io/instance=todo-chatbot-{service}"),
    )
    .iter()
    .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
    .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
    .collect()
}

/// The body of GET `path` through the forward at `port`, if it answers 200.
fn get(port: u16, path: &str) -> Option<String> {
    http(port, "GET", path, None, "")
        .ok()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
}

fn until_served(port: u16, text: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if get(port, "/health").is_some_and(|b| b.contains(text)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{text}` not served through 127.0.0.1:{port} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn service<'a>(outcome: &'a Value, name: &str) -> Option<&'a Value> {
    outcome["services"]
        .as_array()?
        .iter()
        .find(|s| s["service"] == name)
}

/// The cycle after `mark`, which must have succeeded with the backend
/// alone in it, built again.
fn backend_cycle(dev: &mut Dev, mark: usize) -> Value {
    let (_, cycle) = dev.cycle_end(mark, Duration::from_secs(60), "the backend cycle");
    let outcome = &cycle["outcome"];
    assert_eq!(outcome["succeeded"], true, "{cycle}");
    let names: Vec<&str> = outcome["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    assert_eq!(names, ["backend"], "{cycle}");
    assert_eq!(
        service(outcome, "backend").unwrap()["build"]["cached"],
        false,
        "{cycle}"
    );
    cycle
}

/// The backend's /health handler answering `marker`, or a module that fails on import.
fn write_backend(app: &App, original: &str, marker: &str, broken: bool) {
    let mut source = original.replace(
        "return {\"status\": \"ok\"}\n\n    @app.get(\"/ready\")",
        &format!(
            "return {{\"status\": \"ok\", \"dev\": \"{marker}\"}}\n\n    @app.get(\"/ready\")"
        ),
    );
    assert_ne!(source, original, "the /health handler moved");
    if broken {
        source.push_str("\nraise RuntimeError(\"broken by the dev e2e test\")\n");
    }
    std::fs::write(app.dir().join("backend/todo_api/app.py"), source).unwrap();
}

#[test]
#[allow(clippy::too_many_lines)] // One session through the issue's cases, in order.
fn dev_rebuilds_and_rolls_only_what_a_change_affects_and_serves_it_through_the_forward() {
    let Some(mut app) = App::on_cluster("dev-app", "hoist-dev", NODE_PORT) else {
        return;
    };
    // A crash loop is called after one restart, so the broken case is quick.
    let mut stack = std::fs::read_to_string(app.stack_file()).unwrap();
    stack.push_str("\n[profiles.e2e.services.backend.rollout]\ncrashloop_restarts = 1\n");
    std::fs::write(app.stack_file(), stack).unwrap();
    let original = std::fs::read_to_string(app.dir().join("backend/todo_api/app.py")).unwrap();

    let (frontend_port, backend_port) = (free_port(), free_port());
    let ports = [
        "--port".to_owned(),
        format!("frontend={frontend_port}"),
        "--port".to_owned(),
        format!("backend={backend_port}"),
    ];
    let ports: Vec<&str> = ports.iter().map(String::as_str).collect();
    let mut dev = Dev::start(&app, &ports);
    let (_, first) = dev.cycle_end(0, Duration::from_secs(900), "the first up");
    assert_eq!(first["event"], "cycle-finished", "{first}");
    assert_eq!(first["outcome"]["succeeded"], true, "{first}");
    let (_, url) = dev.wait(0, Duration::from_secs(10), "the frontend's URL", |e| {
        e["event"] == "forwarding" && e["service"] == "frontend"
    });
    assert_eq!(url["url"], format!("http://127.0.0.1:{frontend_port}"));
    let page = get(frontend_port, "/").expect("the frontend through its forward");
    assert!(page.contains("<html"), "{page}");
    assert!(get(backend_port, "/health").is_some());
    // The charts' dev values (hoist.toml's dev_values) are what runs:
    // readiness every second with no startup probe before it (liveness held
    // back instead), no preStop drain, and no wait-for-database init
    // container before the backend.
    for service in ["backend", "frontend"] {
        let deployments = app.kubectl_items(
            "deployments",
            &format!("app.kubernetes.io/instance=todo-chatbot-{service}"),
        );
        let pod = &deployments[0]["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(
            container["readinessProbe"]["periodSeconds"], 1,
            "{service}: {container}"
        );
        assert!(
            container["startupProbe"].is_null(),
            "{service}: {container}"
        );
        assert_eq!(
            container["livenessProbe"]["initialDelaySeconds"], 120,
            "{service}: {container}"
        );
        assert!(
            container["lifecycle"]["preStop"].is_null(),
            "{service}: {container}"
        );
        assert!(pod["initContainers"].is_null(), "{service}: {pod}");
    }

    // One backend source file: only the backend rebuilt, delivered, rolled.
    let (frontend_pods, database_pods) = (app.pod_uids("frontend"), app.pod_uids("database"));
    let mark = dev.len();
    write_backend(&app, &original, "edit-1", false);
    until_served(backend_port, "edit-1", Duration::from_secs(300));
    let cycle = backend_cycle(&mut dev, mark);
    // The forward moved once, to the pod that now runs the backend.
    assert_eq!(
        forwarded_to(&dev, mark, "backend"),
        pod_names(&app, "backend"),
        "{:#?}",
        dev.since(mark)
    );
    let backend = service(&cycle["outcome"], "backend").unwrap();
    assert_eq!(backend["deliver"]["skipped"], false, "{cycle}");
    assert_eq!(backend["rollout"]["action"], "upgraded", "{cycle}");
    for event in dev.since(mark) {
        if event["event"] == "step" {
            assert_eq!(event["service"], "backend", "{event}");
        }
    }
    assert_eq!(app.pod_uids("frontend"), frontend_pods);
    assert_eq!(app.pod_uids("database"), database_pods);
    // The frontend still answers through its forward.
    assert!(get(frontend_port, "/").is_some());

    // A start-up that fails: the finding is reported, the old backend
    // keeps serving through the forward; the fix brings the new one up.
    let mark = dev.len();
    write_backend(&app, &original, "edit-2", true);
    let (_, failed) = dev.cycle_end(mark, Duration::from_secs(400), "the broken cycle");
    assert_eq!(failed["event"], "cycle-finished", "{failed}");
    assert_eq!(failed["outcome"]["succeeded"], false, "{failed}");
    let findings = failed["outcome"]["findings"].to_string();
    assert!(
        findings.contains("backend") && findings.contains("broken by the dev e2e test"),
        "{findings}"
    );
    assert_eq!(
        service(&failed["outcome"], "backend").unwrap()["rollout"]["action"],
        "rolled-back",
        "{failed}"
    );
    assert!(
        get(backend_port, "/health").is_some_and(|b| b.contains("edit-1")),
        "the old backend serves"
    );
    assert_eq!(
        forwarded_to(&dev, mark, "backend"),
        Vec::<String>::new(),
        "the forward left the old backend"
    );
    let mark = dev.len();
    write_backend(&app, &original, "edit-2", false);
    until_served(backend_port, "edit-2", Duration::from_secs(300));
    let (_, fixed) = dev.cycle_end(mark, Duration::from_secs(60), "the fixed cycle");
    assert_eq!(fixed["outcome"]["succeeded"], true, "{fixed}");

    // Two saves in quick succession: one or two cycles, the last content wins.
    let mark = dev.len();
    write_backend(&app, &original, "edit-3a", false);
    std::thread::sleep(Duration::from_millis(50));
    write_backend(&app, &original, "edit-3b", false);
    until_served(backend_port, "edit-3b", Duration::from_secs(300));
    // Every cycle that started has ended.
    let mut ended = 0;
    let mut from = mark;
    while ended < cycles_started(&dev, mark) {
        let (i, end) = dev.cycle_end(from, Duration::from_secs(120), "the quick saves' cycles");
        assert_eq!(end["outcome"]["succeeded"], true, "{end}");
        ended += 1;
        from = i + 1;
    }
    assert!(
        (1..=2).contains(&ended),
        "{ended} cycles for two saves: {:#?}",
        dev.since(mark)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(get(backend_port, "/health").is_some_and(|b| b.contains("edit-3b")));

    // A `.env` change: the backend rolls with its new configuration,
    // nothing is built or delivered, the others are left alone.
    let (backend_pods, frontend_pods) = (app.pod_uids("backend"), app.pod_uids("frontend"));
    let mark = dev.len();
    app.write_env(&[("OPENAI_MODEL", "dev-model")]);
    let (_, env_cycle) = dev.cycle_end(mark, Duration::from_secs(300), "the .env cycle");
    let outcome = &env_cycle["outcome"];
    assert_eq!(outcome["succeeded"], true, "{env_cycle}");
    for name in ["database", "backend", "frontend"] {
        let s = service(outcome, name).unwrap_or_else(|| panic!("{name} in {env_cycle}"));
        assert!(
            s["build"].is_null() && s["deliver"].is_null(),
            "{name}: {env_cycle}"
        );
        let expected = if name == "backend" {
            "upgraded"
        } else {
            "unchanged"
        };
        assert_eq!(s["rollout"]["action"], expected, "{name}: {env_cycle}");
    }
    let replaced = app.pod_uids("backend");
    assert!(
        replaced.iter().all(|uid| !backend_pods.contains(uid)),
        "{backend_pods:?} -> {replaced:?}"
    );
    assert_eq!(app.pod_uids("frontend"), frontend_pods);
    // The aggregated logs followed the new pods.
    let logs = dev
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "log" && e["line"]["service"] == "backend")
        .count();
    assert!(logs > 0, "no backend log lines");

    // SIGINT leaves the releases in place.
    let stopped = dev.interrupt();
    assert_eq!(
        stopped["outcome"]["removed"],
        serde_json::json!([]),
        "{stopped}"
    );
    assert_eq!(app.pod_uids("backend"), replaced);
    assert!(
        get(backend_port, "/health").is_none(),
        "the forward stopped with hoist dev"
    );

    // --cleanup removes them on the way out.
    let mut dev = Dev::start(&app, &[&["--cleanup", "--no-logs"], &ports[..]].concat());
    let (_, first) = dev.cycle_end(0, Duration::from_secs(900), "the --cleanup session's up");
    assert_eq!(first["outcome"]["succeeded"], true, "{first}");
    let stopped = dev.interrupt();
    let removed = stopped["outcome"]["removed"].to_string();
    for release in [
        "todo-chatbot-database",
        "todo-chatbot-backend",
        "todo-chatbot-frontend",
    ] {
        assert!(removed.contains(release), "{stopped}");
    }
    let deployments = app.kubectl_items("deployments", "");
    assert!(deployments.is_empty(), "{deployments:?}");
    app.assert_clean(&Command::new("true").output().unwrap());

    let output = app.kubectl(&["delete", "namespace", &app.namespace, "--wait=false"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// The container IDs of `service` in the project, as the daemon lists them.
fn container_ids(cleanup: &Cleanup, service: &str) -> Vec<String> {
    let project = format!("label=hoist.dev/project={}", cleanup.project);
    let service = format!("label=hoist.dev/service={service}");
    let mut ids: Vec<String> = cleanup
        .docker(&["ps", "-q", "--filter", &project, "--filter", &service])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

#[test]
#[allow(clippy::too_many_lines)] // One session through the cases, in order.
fn dev_on_the_docker_engine_rebuilds_and_replaces_only_what_a_change_affects() {
    let Some(on) = OnEngine::start("dev-docker", "hoist-devd", NODE_PORT) else {
        return;
    };
    let OnEngine {
        app,
        cleanup,
        project,
        port: frontend_port,
        home: _home,
        ..
    } = on;
    let backend_port = free_port();
    let stack = std::fs::read_to_string(app.stack_file()).unwrap();
    let published = stack.replacen(
        "[services.backend]\ndepends_on = [\"database\"]\n",
        &format!("[services.backend]\ndepends_on = [\"database\"]\npublish = {backend_port}\n"),
        1,
    );
    assert_ne!(published, stack, "the backend's table moved");
    std::fs::write(app.stack_file(), published).unwrap();
    let original = std::fs::read_to_string(app.dir().join("backend/todo_api/app.py")).unwrap();

    // Forwards are the cluster's: refused here before anything starts.
    let refused = app.hoist(&["dev", "--engine", "docker", "--port", "frontend=1"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("leave --port out and set `publish`"),
        "{}",
        text(&refused.stderr)
    );

    let mut dev = Dev::start(&app, &["--engine", "docker"]);
    let (_, first) = dev.cycle_end(0, Duration::from_secs(900), "the first up");
    assert_eq!(first["event"], "cycle-finished", "{first}");
    assert_eq!(first["outcome"]["succeeded"], true, "{first}");
    assert_eq!(first["outcome"]["engine"], "docker", "{first}");
    let (_, url) = dev.wait(0, Duration::from_secs(10), "the frontend's URL", |e| {
        e["event"] == "published" && e["service"] == "frontend"
    });
    assert_eq!(url["url"], format!("http://127.0.0.1:{frontend_port}/"));
    let page = get(frontend_port, "/").expect("the frontend at its published port");
    assert!(page.contains("<html"), "{page}");

    // One backend source file: only the backend rebuilt and replaced.
    let (frontend, database) = (
        container_ids(&cleanup, "frontend"),
        container_ids(&cleanup, "database"),
    );
    assert_eq!((frontend.len(), database.len()), (1, 1));
    let mark = dev.len();
    write_backend(&app, &original, "docker-edit", false);
    until_served(backend_port, "docker-edit", Duration::from_secs(300));
    let cycle = backend_cycle(&mut dev, mark);
    let backend = service(&cycle["outcome"], "backend").unwrap();
    assert_eq!(
        backend["run"]["containers"][0]["action"], "replaced",
        "{cycle}"
    );
    assert_eq!(container_ids(&cleanup, "frontend"), frontend);
    assert_eq!(container_ids(&cleanup, "database"), database);
    // The new container's lines arrive, with no planted secret in them.
    dev.wait(
        mark,
        Duration::from_secs(30),
        "a log line of the new backend",
        |e| e["event"] == "log" && e["line"]["service"] == "backend",
    );

    let printed = serde_json::to_string(&*dev.events.lock().unwrap()).unwrap();
    for secret in &app.planted {
        assert!(
            !printed.contains(secret.as_str()),
            "a planted secret was printed"
        );
    }

    // SIGINT leaves the containers running.
    let stopped = dev.interrupt();
    assert_eq!(
        stopped["outcome"]["removed"],
        serde_json::json!([]),
        "{stopped}"
    );
    assert_eq!(container_ids(&cleanup, "frontend"), frontend);

    // --cleanup removes the project's containers on the way out.
    let mut dev = Dev::start(&app, &["--engine", "docker", "--cleanup", "--no-logs"]);
    let (_, first) = dev.cycle_end(0, Duration::from_secs(600), "the --cleanup session's up");
    assert_eq!(first["outcome"]["succeeded"], true, "{first}");
    assert_eq!(first["outcome"]["changed"], false, "{first}");
    let stopped = dev.interrupt();
    let removed = stopped["outcome"]["removed"].to_string();
    for service in ["database", "backend", "frontend"] {
        assert!(
            removed.contains(&format!("{project}-{service}-1")),
            "{stopped}"
        );
    }
    assert!(container_ids(&cleanup, "backend").is_empty());
}

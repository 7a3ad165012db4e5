//! The in-test load: N simulated users against the frontend's URL, each in
//! its own tokio task, counting every request and every failure by kind.
//!
//! Each user repeats a mix of what a person does in the app: the page, the
//! task list, a new task, a chat message, and now and then a login. Each
//! request opens its own connection (no keep-alive pool): a connection that
//! a stopping server closes while the next request is already on its way is
//! an error every HTTP client must retry on its own (RFC 9110, 9.3.2), so
//! reusing connections would measure the client's retry policy, not the
//! deployment. Behind the frontend, its proxy does keep connections to the
//! backend; the backend's drain (`Connection: close` from the preStop hook
//! on) is what keeps those from failing.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// Pause between one user's requests: keeps the load bounded on the
/// shared 2-CPU node.
const THINK: Duration = Duration::from_millis(100);
/// A login (argon2, the costliest request) every this many steps.
const LOGIN_EVERY: u64 = 100;

/// One signed-up user of the app.
#[derive(Clone)]
pub(crate) struct User {
    pub(crate) name: String,
    password: String,
    pub(crate) token: String,
}

/// What a load run saw.
#[derive(Default)]
pub(crate) struct Tally {
    /// Requests sent.
    pub(crate) requests: u64,
    /// Failed requests by kind (`HTTP 502 GET /api/tasks`, `connect`, ...).
    pub(crate) failures: BTreeMap<String, u64>,
    /// When each failed request was sent, from the start of the run (a
    /// request that times out 30 s later still says when it was made).
    pub(crate) failed_at: Vec<Duration>,
    /// The tasks the app acknowledged (201), as (user index, title).
    pub(crate) created: Vec<(usize, String)>,
    /// How long the run lasted.
    pub(crate) elapsed: Duration,
}

impl Tally {
    pub(crate) fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    fn merge(&mut self, other: Self) {
        self.requests += other.requests;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        self.failed_at.extend(other.failed_at);
        self.created.extend(other.created);
    }

    /// From `since` (from the run's start) to the last failed request's
    /// start: how long the app did not serve; zero without failures.
    pub(crate) fn outage_after(&self, since: Duration) -> Duration {
        self.failed_at
            .iter()
            .max()
            .map_or(Duration::ZERO, |last| last.saturating_sub(since))
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests in {:.1} s, {} failed",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.failed()
        )?;
        for (kind, n) in &self.failures {
            write!(f, "; {n} x {kind}")?;
        }
        Ok(())
    }
}

/// The app at `http://127.0.0.1:<port>` and a runtime to drive it.
pub(crate) struct Target {
    base: String,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

impl Target {
    pub(crate) fn new(port: u16) -> Self {
        let client = Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client,
            runtime,
        }
    }

    /// Signs up `count` users named `<prefix>_<i>` (fake passwords made now).
    pub(crate) fn sign_up(&self, prefix: &str, count: usize) -> Vec<User> {
        self.runtime.block_on(async {
            let mut users = Vec::with_capacity(count);
            for i in 0..count {
                let name = format!("{prefix}_{i}");
                let password = hoist_testkit::fake_secret("pw", 16, i as u64);
                let body = json!({"username": name, "password": password});
                let (status, reply) = send(
                    &self.client,
                    &self.base,
                    Method::POST,
                    "/api/auth/signup",
                    None,
                    Some(&body),
                )
                .await
                .unwrap_or_else(|e| panic!("sign up {name}: {e}"));
                assert_eq!(status, StatusCode::CREATED, "sign up {name}: {reply}");
                let token = reply["token"].as_str().unwrap().to_owned();
                users.push(User {
                    name,
                    password,
                    token,
                });
            }
            users
        })
    }

    /// The titles of `user`'s tasks, read through the app.
    pub(crate) fn titles(&self, user: &User) -> Vec<String> {
        self.runtime.block_on(async {
            let (status, reply) = send(
                &self.client,
                &self.base,
                Method::GET,
                "/api/tasks",
                Some(&user.token),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("list {}'s tasks: {e}", user.name));
            assert_eq!(status, StatusCode::OK, "{reply}");
            reply
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap().to_owned())
                .collect()
        })
    }

    /// Runs `users` until [`Running::stop`]; `during` runs meanwhile (on
    /// this thread) and gets the time since the load started.
    pub(crate) fn run<T>(
        &self,
        users: &[User],
        during: impl FnOnce(&dyn Fn() -> Duration) -> T,
    ) -> (Tally, T) {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let tasks: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(index, user)| {
                let (client, base, user, stop) = (
                    self.client.clone(),
                    self.base.clone(),
                    user.clone(),
                    Arc::clone(&stop),
                );
                self.runtime.spawn(async move {
                    simulate(&client, &base, index, &user, &stop, started).await
                })
            })
            .collect();
        let clock = move || started.elapsed();
        let result = during(&clock);
        stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        self.runtime.block_on(async {
            for task in tasks {
                tally.merge(task.await.unwrap());
            }
        });
        tally.elapsed = started.elapsed();
        (tally, result)
    }
}

/// One user's loop until `stop`.
async fn simulate(
    client: &Client,
    base: &str,
    index: usize,
    user: &User,
    stop: &AtomicBool,
    started: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("load task {index}-{n}");
        let (method, path, body, expect) = match n % 5 {
            _ if n.is_multiple_of(LOGIN_EVERY) => (
                Method::POST,
                "/api/auth/login",
                Some(json!({"username": user.name, "password": user.password})),
                StatusCode::OK,
            ),
            0 => (Method::GET, "/", None, StatusCode::OK),
            1 => (Method::GET, "/api/tasks", None, StatusCode::OK),
            2 => (
                Method::POST,
                "/api/tasks",
                Some(json!({"title": title})),
                StatusCode::CREATED,
            ),
            3 => (
                Method::POST,
                "/api/chat",
                Some(json!({"message": "list"})),
                StatusCode::OK,
            ),
            _ => (Method::GET, "/api/auth/me", None, StatusCode::OK),
        };
        tally.requests += 1;
        let sent_at = started.elapsed();
        let kind = match send(
            client,
            base,
            method.clone(),
            path,
            Some(&user.token),
            body.as_ref(),
        )
        .await
        {
            Ok((status, _)) if status == expect => {
                if path == "/api/tasks" && method == Method::POST {
                    tally.created.push((index, title));
                }
                None
            }
            Ok((status, _)) => Some(format!("HTTP {} {method} {path}", status.as_u16())),
            Err(e) if e.is_timeout() => Some(format!("timeout {method} {path}")),
            Err(e) if e.is_connect() => Some(format!("connect {method} {path}")),
            Err(_) => Some(format!("connection lost {method} {path}")),
        };
        if let Some(kind) = kind {
            *tally.failures.entry(kind).or_default() += 1;
            tally.failed_at.push(sent_at);
        }
        tokio::time::sleep(THINK).await;
    }
    tally
}

/// One request; the status and the body as JSON (`Null` for a page or no body).
async fn send(
    client: &Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Result<(StatusCode, Value)> {
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

//! Registries of a test's own: Debian's `docker-registry` (distribution
//! 2.8) on a free loopback port, anonymous or with token auth as Docker Hub
//! runs it, with a token server on loopback that the test controls.
//!
//! The token server answers `GET /token?service=...&scope=repository:NAME:ACTIONS`
//! as Docker Hub's does: `Authorization: Basic` with the right user and
//! password gets every action asked for, no `Authorization` gets `pull` when
//! anonymous pull is on (and nothing otherwise), wrong credentials get 401.
//! Its tokens are JWTs signed ES256 with a key and a self-signed certificate
//! made when the registry starts; the certificate is the registry's
//! `rootcertbundle` and travels in each token's `x5c` header.
//!
//! ```no_run
//! use hoist_testkit::registry::{LocalRegistry, TokenAuth};
//! let auth = TokenAuth::new("hoist", true);
//! let Some(registry) = LocalRegistry::with_token_auth(auth) else { return };
//! assert!(registry.address().starts_with("127.0.0.1:"));
//! ```

use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use crate::fake_secret;

/// The `service` the registry names in its challenge and expects as the
/// tokens' audience.
pub const TOKEN_SERVICE: &str = "hoist-test-registry";
/// The issuer the registry trusts.
pub const TOKEN_ISSUER: &str = "hoist-test-token-issuer";

/// Who the token server knows, and whether it lets anyone pull.
#[derive(Clone)]
pub struct TokenAuth {
    /// The one user.
    pub user: String,
    /// Their password, made at run time.
    pub password: String,
    /// Whether a request without credentials gets `pull` (Docker Hub's
    /// public repositories).
    pub anonymous_pull: bool,
}

impl TokenAuth {
    /// `user` with a password made now (never a fixture).
    #[must_use]
    pub fn new(user: &str, anonymous_pull: bool) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self {
            user: user.to_owned(),
            password: fake_secret("", 24, u64::from(std::process::id()) ^ u64::from(nanos)),
            anonymous_pull,
        }
    }
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("user", &self.user)
            .field("anonymous_pull", &self.anonymous_pull)
            .finish_non_exhaustive()
    }
}

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The user it authenticated, `None` for an anonymous request.
    pub user: Option<String>,
    /// The `scope` parameters.
    pub scopes: Vec<String>,
    /// Whether it was refused (wrong credentials).
    pub refused: bool,
}

/// A `docker-registry serve` of the test's own; stopped when dropped.
pub struct LocalRegistry {
    address: String,
    child: Child,
    requests: Option<Arc<Mutex<Vec<TokenRequest>>>>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for LocalRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRegistry")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl LocalRegistry {
    /// An anonymous registry, or `None` (the test skips) when
    /// `docker-registry` is not installed.
    ///
    /// # Panics
    ///
    /// When it does not come up, or it is missing and services are required
    /// (see [`crate::services_required`]).
    #[must_use]
    pub fn start() -> Option<Self> {
        Self::spawn(None)
    }

    /// A registry with token auth, its token server already listening.
    ///
    /// # Panics
    ///
    /// As [`LocalRegistry::start`].
    #[must_use]
    pub fn with_token_auth(auth: TokenAuth) -> Option<Self> {
        Self::spawn(Some(auth))
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The requests the token server has answered, oldest first.
    #[must_use]
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.requests
            .as_ref()
            .map(|r| {
                r.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            })
            .unwrap_or_default()
    }

    fn spawn(auth: Option<TokenAuth>) -> Option<Self> {
        if Command::new("docker-registry")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                !crate::services_required(),
                "docker-registry is required here but not installed; .ci/setup.sh installs the Debian package docker-registry"
            );
            #[allow(clippy::print_stderr)] // As crate::service reports a skip.
            {
                eprintln!("skipped: needs docker-registry (the Debian package docker-registry)");
            }
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let mut requests = None;
        let auth_line = auth.map_or_else(String::new, |auth| {
            let server = TokenServer::start(auth, dir.path());
            requests = Some(server.requests);
            format!(
                "auth: {{token: {{realm: \"http://{}/token\", service: {TOKEN_SERVICE}, issuer: {TOKEN_ISSUER}, rootcertbundle: {}}}}}\n",
                server.address,
                server.bundle.display()
            )
        });
        let config = format!(
            "version: 0.1\nlog: {{level: info}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: {address}}}\n{auth_line}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write the registry's config");
        let log = std::fs::File::create(dir.path().join("log")).expect("create the registry's log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().expect("the registry's log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Self {
            address,
            child,
            requests,
            dir,
        };
        registry.wait_ready();
        Some(registry)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = http_status(&self.address, "/v2/")
                && (status == 200 || status == 401)
            {
                return;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!(
                    "docker-registry on {} exited ({exit}):\n{}",
                    self.address,
                    std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "docker-registry on {} did not answer within 30 s:\n{}",
            self.address,
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The status code of `GET path`, or `None` when nothing answers.
fn http_status(address: &str, path: &str) -> Option<u16> {
    http_get(address, path, "").map(|(status, _)| status)
}

/// `GET path` over plain HTTP/1.0 with `headers` (each line ending in
/// `\r\n`): the status code and the body, or `None` when nothing answers.
pub(crate) fn http_get(address: &str, path: &str, headers: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\n{headers}\r\n"
    )
    .ok()?;
    let mut response = String::new();
    BufReader::new(stream).read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_owned()))
}

struct TokenServer {
    address: String,
    bundle: std::path::PathBuf,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

struct Issuer {
    auth: TokenAuth,
    key: EcdsaKeyPair,
    certificate: String,
    rng: SystemRandom,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenServer {
    fn start(auth: TokenAuth, dir: &Path) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![TOKEN_ISSUER.to_owned()])
            .expect("a signing key and certificate");
        let bundle = dir.join("token-root.pem");
        std::fs::write(&bundle, certified.cert.pem()).expect("write the root bundle");
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &certified.signing_key.serialize_der(),
            &rng,
        )
        .expect("the signing key");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address").to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let issuer = Issuer {
            auth,
            key,
            certificate: STANDARD.encode(certified.cert.der()),
            rng,
            requests: Arc::clone(&requests),
        };
        // Lives as long as the test process; each answer is small.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = issuer.answer(&stream);
            }
        });
        Self {
            address,
            bundle,
            requests,
        }
    }
}

impl Issuer {
    fn answer(&self, stream: &TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut authorization = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("authorization")
            {
                authorization = Some(value.trim().to_owned());
            }
        }
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let scopes: Vec<String> = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .collect();
        let user = authorization.map(|value| self.check(&value));
        let refused = matches!(user, Some(None));
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(TokenRequest {
                user: user.clone().flatten(),
                scopes: scopes.clone(),
                refused,
            });
        let mut stream = reader.into_inner();
        if refused {
            return respond(
                &mut stream,
                "401 Unauthorized",
                r#"{"details":"incorrect username or password"}"#,
            );
        }
        let user = user.flatten();
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|scope| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                let granted: Vec<&str> = actions
                    .split(',')
                    .filter(|a| user.is_some() || (self.auth.anonymous_pull && *a == "pull"))
                    .collect();
                Some(serde_json::json!({"type": kind, "name": name, "actions": granted}))
            })
            .collect();
        let token = self.sign(user.as_deref().unwrap_or(""), &access);
        let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
        respond(&mut stream, "200 OK", &body.to_string())
    }

    /// `Some(user)` for the right credentials, `None` for wrong ones.
    fn check(&self, authorization: &str) -> Option<String> {
        let encoded = authorization.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        (user == self.auth.user && password == self.auth.password).then(|| user.to_owned())
    }

    fn sign(&self, subject: &str, access: &[serde_json::Value]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [self.certificate]});
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER, "sub": subject, "aud": TOKEN_SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{subject}"),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, input.as_bytes())
            .expect("an ES256 signature");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)
}

//! Accepted findings: false positives the user has reviewed.

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Deserializer};

use crate::{Error, Finding, Result, Rule};

/// Findings to let through, as `(path glob, rule)` entries; an entry without
/// a rule accepts every rule for the paths it matches.
///
/// Globs use `globset` syntax with `/` as a literal separator: `*` stays
/// within one path component, `**` crosses them (`**/fixtures/*.pem`). A
/// leading `/` is ignored on both the glob and the path, so `app/.env` and
/// `/app/.env` are the same.
///
/// It deserializes from a list of `{ path = "glob", rule = "rule-id" }`
/// tables (`rule` optional; an optional `reason` is accepted and ignored, for
/// the reader of the file):
///
/// ```
/// # use hoist_secrets::{Allowlist, Finding, Rule};
/// #[derive(serde::Deserialize)]
/// struct Config { allow: Allowlist }
/// let config: Config = toml::from_str(r#"
///     allow = [
///       { path = "/app/tests/**", rule = "private-key", reason = "test fixtures" },
///       { path = "/app/.env.defaults" },
///     ]
/// "#).unwrap();
/// let finding = Finding { path: "/app/tests/keys/a.pem".into(), line: Some(1), rule: Rule::PrivateKey };
/// assert!(config.allow.permits(&finding));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    matcher: GlobMatcher,
    rule: Option<Rule>,
}

impl Allowlist {
    /// An empty allowlist: every finding counts.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts findings of `rule` (or of every rule, if `None`) in paths that
    /// match `path_glob`.
    ///
    /// # Errors
    ///
    /// [`Error::BadGlob`] when `path_glob` is not a valid glob.
    pub fn allow(&mut self, path_glob: &str, rule: Option<Rule>) -> Result<()> {
        let pattern = path_glob.trim_start_matches('/');
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|source| Error::BadGlob {
                glob: path_glob.to_owned(),
                reason: source.kind().to_string(),
            })?;
        self.entries.push(Entry {
            matcher: glob.compile_matcher(),
            rule,
        });
        Ok(())
    }

    /// Whether an entry accepts this finding.
    #[must_use]
    pub fn permits(&self, finding: &Finding) -> bool {
        let path = finding.path.trim_start_matches('/');
        self.entries.iter().any(|entry| {
            entry.rule.is_none_or(|rule| rule == finding.rule) && entry.matcher.is_match(path)
        })
    }

    /// Whether the allowlist has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Test directories and test files of installed dependencies (Python
/// `site-packages`/`dist-packages`, `node_modules`). Packages published to a
/// public registry ship their test keys and tokens on purpose (`ecdsa`'s
/// `test_keys.py` holds private keys, and `python-jose` depends on it), so
/// nothing there can be the user's secret. [`crate::Scanner::new`] lets
/// these through; [`crate::Scanner::strict`] does not.
pub const DEPENDENCY_TEST_GLOBS: [&str; 7] = [
    "**/{site,dist}-packages/**/{test,tests,testing}/**",
    "**/{site,dist}-packages/**/test_*",
    "**/{site,dist}-packages/**/*_test.py",
    "**/{site,dist}-packages/**/conftest.py",
    "**/node_modules/**/{test,tests,__tests__,__fixtures__,fixtures}/**",
    "**/node_modules/**/*.test.{js,cjs,mjs,ts}",
    "**/node_modules/**/*.spec.{js,cjs,mjs,ts}",
];

/// Build outputs that must carry a generated key for the application to
/// start: Next.js writes fresh preview-mode signing and encryption keys into
/// its prerender manifest on every build, and the server reads them from
/// there. They sign only preview-mode cookies of that one build. Only
/// [`Rule::HighEntropyAssignment`] is let through here; a vendor key that
/// ends up in these files is still reported.
pub const BUILD_ARTIFACT_GLOBS: [&str; 2] = [
    "**/.next/prerender-manifest.{json,js}",
    "**/.next/server/prerender-manifest.{json,js}",
];

/// Multiarch library directories, filled only by distribution packages.
/// Libraries carry self-test vectors: Debian's `libgnutls.so.30` holds a
/// dozen private keys for its FIPS self-tests. They are public, and the
/// same in every copy of the package.
pub const SYSTEM_LIBRARY_GLOBS: [&str; 2] = ["**/usr/lib/*-linux-gnu/**", "**/lib/*-linux-gnu/**"];

impl Allowlist {
    /// What [`crate::Scanner::new`] lets through besides the user's
    /// allowlist: every rule in [`DEPENDENCY_TEST_GLOBS`] and
    /// [`SYSTEM_LIBRARY_GLOBS`], and [`Rule::HighEntropyAssignment`] in
    /// [`BUILD_ARTIFACT_GLOBS`].
    ///
    /// # Panics
    ///
    /// Never: the globs are constants covered by a test.
    #[must_use]
    pub fn defaults() -> Self {
        let mut allowlist = Allowlist::dependency_tests();
        for glob in SYSTEM_LIBRARY_GLOBS {
            allowlist
                .allow(glob, None)
                .expect("the default globs are valid");
        }
        for glob in BUILD_ARTIFACT_GLOBS {
            allowlist
                .allow(glob, Some(Rule::HighEntropyAssignment))
                .expect("the default globs are valid");
        }
        allowlist
    }

    /// An allowlist of [`DEPENDENCY_TEST_GLOBS`], for every rule.
    ///
    /// # Panics
    ///
    /// Never: the globs are constants covered by a test.
    #[must_use]
    pub fn dependency_tests() -> Self {
        let mut allowlist = Allowlist::new();
        for glob in DEPENDENCY_TEST_GLOBS {
            allowlist
                .allow(glob, None)
                .expect("the dependency test globs are valid");
        }
        allowlist
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    path: String,
    #[serde(default)]
    rule: Option<Rule>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "documentation for whoever reads the allowlist file"
    )]
    reason: Option<String>,
}

impl<'de> Deserialize<'de> for Allowlist {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Vec::<RawEntry>::deserialize(deserializer)?;
        let mut allowlist = Allowlist::new();
        for entry in raw {
            allowlist
                .allow(&entry.path, entry.rule)
                .map_err(serde::de::Error::custom)?;
        }
        Ok(allowlist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(path: &str, rule: Rule) -> Finding {
        Finding {
            path: path.into(),
            line: Some(1),
            rule,
        }
    }

    #[test]
    fn glob_and_rule_must_both_match() {
        let mut allow = Allowlist::new();
        allow
            .allow("/app/tests/**/*.pem", Some(Rule::PrivateKey))
            .unwrap();
        allow.allow("app/.env.defaults", None).unwrap();
        assert!(allow.permits(&finding("/app/tests/keys/a.pem", Rule::PrivateKey)));
        assert!(allow.permits(&finding("app/tests/a.pem", Rule::PrivateKey)));
        assert!(!allow.permits(&finding("/app/tests/a.pem", Rule::OpenAiKey)));
        assert!(!allow.permits(&finding("/app/src/a.pem", Rule::PrivateKey)));
        assert!(allow.permits(&finding("/app/.env.defaults", Rule::DotEnvFile)));
        assert!(allow.permits(&finding("/app/.env.defaults", Rule::JwtSecret)));
        assert!(!Allowlist::new().permits(&finding("/x", Rule::DotEnvFile)));
    }

    #[test]
    fn star_stays_in_one_component() {
        let mut allow = Allowlist::new();
        allow.allow("app/*.pem", None).unwrap();
        assert!(allow.permits(&finding("/app/a.pem", Rule::PrivateKey)));
        assert!(!allow.permits(&finding("/app/sub/a.pem", Rule::PrivateKey)));
    }

    #[test]
    fn dependency_tests_cover_python_and_node_test_files() {
        let allow = Allowlist::dependency_tests();
        for path in [
            "/app/.venv/lib/python3.11/site-packages/ecdsa/test_keys.py",
            "/app/.venv/lib/python3.11/site-packages/ecdsa/__pycache__/test_keys.cpython-311.pyc",
            "/usr/lib/python3/dist-packages/pkg/tests/data/key.pem",
            "/app/node_modules/jws/test/fixtures/key.pem",
            "/app/node_modules/@scope/pkg/dist/a.test.js",
        ] {
            assert!(allow.permits(&finding(path, Rule::PrivateKey)), "{path}");
        }
        for path in [
            "/app/tests/key.pem",
            "/app/test_settings.py",
            "/app/.venv/lib/python3.11/site-packages/jose/jws.py",
            "/app/node_modules/next/dist/server/config.js",
            "/app/.next/server/app/page.js",
        ] {
            assert!(!allow.permits(&finding(path, Rule::PrivateKey)), "{path}");
        }
    }

    #[test]
    fn defaults_cover_dependency_tests_system_libraries_and_next_keys() {
        let allow = Allowlist::defaults();
        for path in [
            "/app/.next/prerender-manifest.json",
            "/app/frontend/.next/server/prerender-manifest.js",
            "/app/.venv/lib/python3.11/site-packages/ecdsa/test_keys.py",
            "/usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3",
            "lib/aarch64-linux-gnu/libcrypto.so.3",
        ] {
            assert!(
                allow.permits(&finding(path, Rule::HighEntropyAssignment)),
                "{path}"
            );
        }
        assert!(!allow.permits(&finding(
            "/app/.next/server/app/page.js",
            Rule::HighEntropyAssignment
        )));
        assert!(!allow.permits(&finding(
            "/app/.next/prerender-manifest.json",
            Rule::OpenAiKey
        )));
        for path in [
            "/usr/lib/python3/dist-packages/x.py",
            "/etc/ssl/private/ssl-cert-snakeoil.key",
        ] {
            assert!(!allow.permits(&finding(path, Rule::PrivateKey)), "{path}");
        }
    }

    #[test]
    fn bad_glob_names_the_glob() {
        let err = Allowlist::new().allow("app/[.env", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid allowlist path glob `app/[.env`: unclosed character class; missing ']'"
        );
    }

    #[test]
    fn deserializes_from_json_and_toml() {
        let allow: Allowlist =
            serde_json::from_str(r#"[{"path": "/srv/**", "rule": "openai-key"}, {"path": "/x"}]"#)
                .unwrap();
        assert!(allow.permits(&finding("/srv/a/b.js", Rule::OpenAiKey)));
        assert!(!allow.permits(&finding("/srv/a/b.js", Rule::GithubToken)));
        assert!(allow.permits(&finding("/x", Rule::GithubToken)));

        let err = serde_json::from_str::<Allowlist>(r#"[{"path": "/srv/**", "rule": "openai"}]"#)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown secret rule `openai`; expected one of: dotenv-file,"),
            "{err}"
        );
        let err = serde_json::from_str::<Allowlist>(r#"[{"path": "a/[b"}]"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid allowlist path glob `a/[b`: unclosed"),
            "{err}"
        );
        let err =
            serde_json::from_str::<Allowlist>(r#"[{"path": "a", "rules": "x"}]"#).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown field `rules`"),
            "{err}"
        );
    }
}

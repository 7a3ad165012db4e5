//! Table tests: for each rule, contents that must match it and near misses
//! that must not match anything.

use hoist_secrets::{Allowlist, Finding, Rule, Scanner};

use crate::fakes;

fn scan(path: &str, content: &str) -> Vec<Finding> {
    Scanner::new(Allowlist::new()).scan_file(path, content.as_bytes())
}

fn rules(path: &str, content: &str) -> Vec<(Option<usize>, Rule)> {
    scan(path, content)
        .into_iter()
        .map(|f| (f.line, f.rule))
        .collect()
}

#[track_caller]
fn assert_hit(content: &str, line: usize, rule: Rule) {
    assert_eq!(
        rules("/app/x.txt", content),
        [(Some(line), rule)],
        "{content}"
    );
}

#[track_caller]
fn assert_clean(content: &str) {
    assert_eq!(rules("/app/x.txt", content), [], "{content}");
}

#[test]
fn dotenv_files_by_name() {
    let finding = &scan("/app/.env.production", "PORT=3000\n")[0];
    assert_eq!(
        finding.to_string(),
        "/app/.env.production: dotenv-file (.env file)"
    );
    assert_eq!(rules("/app/.env.example", "PORT=3000\n"), []);
    assert_eq!(rules("/app/config.env", ""), [(None, Rule::DotEnvFile)]);
}

#[test]
fn private_keys() {
    for kind in ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "] {
        assert_hit(
            &format!("# key\n{}", fakes::pem_block(kind, 1)),
            2,
            Rule::PrivateKey,
        );
    }
    let json = format!(
        r#"{{"key": "{}\n{}\n"}}"#,
        fakes::pem_begin(""),
        fakes::random(64, 3)
    );
    assert_hit(&json, 1, Rule::PrivateKey);
    // Parsers carry the bare header as a constant.
    assert_clean(&format!(
        "_SK_START = b\"{}\"\n_SK_END = b\"{}\"\n",
        fakes::pem_begin("OPENSSH "),
        fakes::pem_end("OPENSSH ")
    ));
    assert_clean(&format!(
        "{}BEGIN PUBLIC KEY{}\n{}\n",
        "-".repeat(5),
        "-".repeat(5),
        fakes::random(64, 4)
    ));
    assert_clean(&format!(
        "{}BEGIN CERTIFICATE{}\n{}\n",
        "-".repeat(5),
        "-".repeat(5),
        fakes::random(64, 5)
    ));
}

#[test]
fn key_shapes() {
    for (key, rule) in fakes::prefixed_keys() {
        assert_hit(&format!("line one\nclient = Client(\"{key}\")\n"), 2, rule);
        assert_hit(&format!("const k=\"{key}\";"), 1, rule);
        assert_hit(&format!("KEY_FOR_X={key}"), 1, rule);
        // Glued to a word, it is part of something else.
        assert_clean(&format!("x{key}"));
    }
}

#[test]
fn key_shape_near_misses() {
    assert_clean("Ask-the-user and risk-free; use sk- prefixed keys from the dashboard.\n");
    assert_clean("class=\"sk-loading-spinner-container-with-a-long-name\"\n");
    assert_clean(&format!("sk-{}\n", "a".repeat(48)));
    // AWS's documented example id, assembled here so no file carries the shape.
    assert_clean(&format!(
        "{}{} is the documentation id\n",
        "AKIA", "IOSFODNN7EXAMPLE"
    ));
    assert_clean("timezone = Asia/Tokyo ASIAN\n");
    assert_clean(&format!("{}\n", fakes::google(1).split_at(30).0));
    assert_clean("ghp_short and github_pat_short\n");
}

#[test]
fn aws_secret_keys() {
    let secret = fakes::aws_secret(1);
    assert_hit(
        &format!("[default]\naws_secret_access_key = {secret}\n"),
        2,
        Rule::AwsSecretKey,
    );
    assert_hit(
        &format!("AWS_SECRET_ACCESS_KEY={secret}\n"),
        1,
        Rule::AwsSecretKey,
    );
    assert_hit(
        &format!("{{\"awsSecretKey\": \"{secret}\"}}"),
        1,
        Rule::AwsSecretKey,
    );
}

#[test]
fn gcp_service_accounts() {
    let json = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key\": \"{}\\n{}\\n\"\n}}\n",
        fakes::pem_begin(""),
        fakes::random(64, 2)
    );
    assert_eq!(
        rules("/app/sa.json", &json),
        [
            (Some(2), Rule::GcpServiceAccount),
            (Some(4), Rule::PrivateKey)
        ]
    );
    assert_clean("{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\"\n}\n");
    assert_clean("ACCOUNT_TYPES = [\"service_account\", \"user\"]\n\"private_key\": null\n");
}

#[test]
fn jwt_secrets() {
    for line in [
        "JWT_SECRET=hunter2-but-longer",
        "SECRET_KEY = 'django-insecure-3x@mp1e'",
        "jwtSecret: \"correct-horse-battery\"",
        "FLASK_SECRET_KEY=s3cr3t-value",
        "export JWT_SECRET=abc12345",
    ] {
        assert_hit(&format!("{line}\n"), 1, Rule::JwtSecret);
    }
    for line in [
        "JWT_SECRET=",
        "JWT_SECRET=changeme",
        "JWT_SECRET=${JWT_SECRET}",
        "SECRET_KEY = os.environ[\"SECRET_KEY\"]",
        "SECRET_KEY = settings.SECRET_KEY",
        "jwt_secret = get_secret()",
        "secret_key=secret_key",
        "jwtSecret: process.env.JWT_SECRET,",
        "if jwt_secret == \"abcdefgh1\":",
        "JWT_SECRET_TTL=3600",
        "JWT_SECRET=your-jwt-secret-here",
    ] {
        assert_clean(&format!("{line}\n"));
    }
}

#[test]
fn high_entropy_assignments() {
    let value = fakes::random(32, 11);
    for line in [
        format!("DB_PASSWORD={value}"),
        format!("api_key = \"{value}\""),
        format!("  \"accessToken\": \"{value}\","),
        format!("stripe:\n  secretToken: {value}"),
        format!("const apiKey = '{value}';"),
        format!("$password = \"{value}\";"),
        format!("  \"client_secret\" => \"{value}\","),
        format!("curl --token={value} https://x"),
    ] {
        let last = line.lines().count();
        assert_hit(&format!("{line}\n"), last, Rule::HighEntropyAssignment);
    }
    let hex = "0123456789abcdef".repeat(2);
    assert_hit(
        &format!("API_TOKEN={hex}\n"),
        1,
        Rule::HighEntropyAssignment,
    );
}

#[test]
fn high_entropy_near_misses() {
    let value = fakes::random(32, 12);
    for line in [
        // Ordinary names.
        format!("BUILD_ID={value}"),
        format!("\"integrity\": \"sha512-{value}\""),
        // Identifiers, UUIDs, short hex, low entropy, prose.
        "REQUEST_TOKEN=3f2a9c4e-1b7d-4e8a-9f0c-2d5b6a7e8c91".to_owned(),
        "SESSION_KEY=deadbeefcafe1234".to_owned(),
        "API_KEY=aaaaaaaaaaaaaaaaaaaa1".to_owned(),
        "\"password\": \"Enter your password here\"".to_owned(),
        "\"tokenType\": \"urn:ietf:params:oauth:token-type:jwt\"".to_owned(),
        "password_hash = make_password(raw_password)".to_owned(),
        "token = tokens[0]".to_owned(),
        "key: value".to_owned(),
        format!("MONKEY={value}"),
        format!("KEYCLOAK_URL=https://auth.internal/realms/{value}"),
        "{key:e.key,token:t.accessToken,secret:r}".to_owned(),
        // Shapes met in real dependency trees (oauthlib, cryptography,
        // openai, corepack, Next.js's compiled validator).
        "goog.ctx.CONTEXT_KEY_=\"__closure__error__context__984382\"".to_owned(),
        "a.tokens.OpaqueTypeToken=module$contents$google3$jspb$tokens_OpaqueTypeToken;".to_owned(),
        format!("    >>> token = '{value}'"),
        "    \"batch_1_day_max_input_tokens\": batch_1_day_max_input_tokens,".to_owned(),
        "'oauth_token=lsdkfol23w54jlksdef&oauth_token_secret=qwe089234lkjsdf&oauth_callback=true'"
            .to_owned(),
        "nid_key = self._lib.NID_pbe_WithSHA1And3_Key_TripleDES_CBC".to_owned(),
        "exports.X509AuthorityKeyIDExtension = X509AuthorityKeyIDExtension;".to_owned(),
        // 22 characters, like RFC 6749's sample tokens: under the minimum.
        format!("  \"access_token\":\"{}\",", fakes::random(22, 15)),
        "        name=\"Foo\", secret_key=\"supersecret\"".to_owned(),
    ] {
        assert_clean(&format!("{line}\n"));
    }
}

#[test]
fn url_credentials() {
    let password = fakes::random(20, 13);
    assert_hit(
        &format!("DATABASE_URL=postgres://app:{password}@db:5432/app\n"),
        1,
        Rule::UrlCredentials,
    );
    assert_hit(
        &format!("url = \"https://deploy:{password}@git.internal/repo.git\"\n"),
        1,
        Rule::UrlCredentials,
    );
    for line in [
        "postgresql://scott:tiger@localhost/test",
        "postgres://user:password@localhost:5432/db",
        "postgres://postgres:${POSTGRES_PASSWORD}@db/app",
        "https://git@github.com/org/repo",
        "https://example.com/@scope/pkg",
        "http://localhost:8000/api",
        "amqp://guest:guest@localhost//",
        "const myURL = new URL('https://abc:xyz@example.com');",
        "https://admin:s3cr3tPa55@api.example.org:8443/v1",
    ] {
        assert_clean(&format!("{line}\n"));
    }
}

#[test]
fn name_words_in_each_spelling() {
    let value = fakes::random(32, 14);
    for name in [
        "client_secret",
        "CLIENT_SECRET",
        "clientSecret",
        "ClientSecret",
        "dbPassword",
        "AUTH_TOKEN",
        "apiKey",
        "userCreds",
    ] {
        assert_hit(
            &format!("{name}=\"{value}\"\n"),
            1,
            Rule::HighEntropyAssignment,
        );
    }
}

//! The `.env.example` lint.

use hoist_config::{Finding, lint_example};
use hoist_testkit::fake_secret;

use crate::{load, project};

#[test]
fn undocumented_keys_and_real_looking_secrets_are_found_placeholders_are_not() {
    let key = fake_secret("sk-proj-", 48, 31);
    let example = format!("A=\nPASSWORD=change-me\nURL=postgres://u:change-me@db/x\nKEY={key}\n");
    let dir = project(&[
        (
            "hoist.toml",
            "project = \"shop\"\n[services.api.env]\nrequired = [\"A\", \"MISSING\"]\nkeys = [\"PASSWORD\", \"URL\", \"KEY\"]\n",
        ),
        (".env.example", &example),
    ]);
    let findings = lint_example(&load(dir.path(), None)).unwrap();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        matches!(&findings[0], Finding::Undocumented { key, service, .. } if key == "MISSING" && service == "api")
    );
    assert!(
        matches!(&findings[1], Finding::LooksSecret { key, rule, location } if key == "KEY" && rule == "openai-key" && location.line == 4)
    );
    assert!(!findings.iter().any(|f| f.to_string().contains(&key)));
}

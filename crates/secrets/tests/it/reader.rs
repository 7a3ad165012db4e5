//! `scan_reader` sees what `scan_file` sees, however the bytes arrive.

use std::io::{self, Read};

use hoist_secrets::{Allowlist, Finding, Rule, Scanner};

use crate::fakes;

/// Hands out at most `step` bytes per read, cycling through a few sizes so
/// chunk ends land everywhere.
pub(crate) struct Trickle<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) steps: &'a [usize],
    pub(crate) turn: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = self.steps[self.turn % self.steps.len()];
        self.turn += 1;
        let n = step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn sample() -> String {
    format!(
        "# settings\nPORT=3000\nOPENAI_API_KEY={}\n\n{}\njwt_secret: \"{}\"\nurl = \"https://ci:{}@git.internal/x\"\n\
         {{\n  \"type\": \"service_account\",\n  \"private_key\": \"-\"\n}}\nlast line without newline {}",
        fakes::openai(1),
        fakes::pem_block("RSA ", 2),
        fakes::random(30, 3),
        fakes::random(20, 4),
        fakes::github("ghp", 5),
    )
}

#[test]
fn trickled_reads_match_a_whole_file_scan() {
    let scanner = Scanner::new(Allowlist::new());
    let content = sample();
    let whole = scanner.scan_file("/app/.env", content.as_bytes());
    let rules: Vec<_> = whole.iter().map(|f| (f.line, f.rule)).collect();
    assert_eq!(
        rules,
        [
            (None, Rule::DotEnvFile),
            (Some(3), Rule::OpenAiKey),
            (Some(5), Rule::PrivateKey),
            (Some(12), Rule::JwtSecret),
            (Some(13), Rule::UrlCredentials),
            (Some(15), Rule::GcpServiceAccount),
            (Some(18), Rule::GithubToken),
        ]
    );
    for steps in [&[1][..], &[2, 3, 5, 7], &[64], &[4096]] {
        let reader = Trickle {
            data: content.as_bytes(),
            steps,
            turn: 0,
        };
        assert_eq!(
            scanner.scan_reader("/app/.env", reader).unwrap(),
            whole,
            "steps {steps:?}"
        );
    }
}

#[test]
fn a_private_key_header_split_from_its_body_by_a_chunk_end() {
    let scanner = Scanner::new(Allowlist::new());
    let block = fakes::pem_block("", 9);
    let header_end = block.find('\n').unwrap() + 1;
    // One read ends exactly after the header line.
    let steps = [header_end, 4096];
    let reader = Trickle {
        data: block.as_bytes(),
        steps: &steps,
        turn: 0,
    };
    let findings = scanner.scan_reader("/k", reader).unwrap();
    assert_eq!(
        findings,
        [Finding {
            path: "/k".into(),
            line: Some(1),
            rule: Rule::PrivateKey
        }]
    );
    // A header with nothing after it is a constant, not a key.
    let bare = format!("{}\n", fakes::pem_begin(""));
    let reader = Trickle {
        data: bare.as_bytes(),
        steps: &steps,
        turn: 0,
    };
    assert_eq!(scanner.scan_reader("/k", reader).unwrap(), []);
}

#[test]
fn a_key_across_the_cut_of_a_huge_line_is_found() {
    let scanner = Scanner::new(Allowlist::new());
    let key = fakes::openai(11);
    for offset in [1 << 20, (1 << 20) - 10, (1 << 20) + 300] {
        let mut line = "x".repeat(offset - 1);
        line.push(' ');
        line.push_str(&key);
        line.push(' ');
        line.push_str(&"y".repeat(3 << 20));
        let content = format!("first\n{line}\nlast\n");
        let findings = scanner.scan_reader("/big.js", content.as_bytes()).unwrap();
        assert_eq!(
            findings,
            [Finding {
                path: "/big.js".into(),
                line: Some(2),
                rule: Rule::OpenAiKey
            }],
            "{offset}"
        );
    }
}

#[test]
fn read_errors_are_returned() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let err = Scanner::new(Allowlist::new())
        .scan_reader("/x", Broken)
        .unwrap_err();
    assert_eq!(err.to_string(), "disk on fire");
}

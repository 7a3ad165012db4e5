//! A corpus of ordinary application files (a `FastAPI` backend, Next.js build
//! output, deployment files) must produce no finding; the same files with a
//! key planted in them must produce exactly that finding.

use std::path::{Path, PathBuf};

use hoist_secrets::{Allowlist, Finding, Rule, Scanner};

use crate::fakes;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

/// Every file under `dir`, with the path an image would show.
fn files(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(root, &path, out);
        } else {
            let shown = format!("/app/{}", path.strip_prefix(root).unwrap().display());
            out.push((shown, std::fs::read(&path).unwrap()));
        }
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    files(&corpus_root(), &corpus_root(), &mut out);
    out.push((
        "/app/frontend/.next/prerender-manifest.json".to_owned(),
        prerender_manifest().into_bytes(),
    ));
    assert!(
        out.len() >= 20,
        "the corpus is missing files: {}",
        out.len()
    );
    out
}

fn scan_all(scanner: &Scanner, files: &[(String, Vec<u8>)]) -> Vec<Finding> {
    files
        .iter()
        .flat_map(|(path, content)| scanner.scan_file(path, content))
        .collect()
}

/// What `next build` writes: fresh random preview-mode keys in hex. Built
/// here rather than committed, since they look like the keys they are.
fn prerender_manifest() -> String {
    let hex = |len: usize, seed: u64| -> String {
        fakes::random(len, seed)
            .bytes()
            .map(|b| char::from(b"0123456789abcdef"[usize::from(b % 16)]))
            .collect()
    };
    format!(
        "{{\n  \"version\": 4,\n  \"routes\": {{}},\n  \"preview\": {{\n    \"previewModeId\": \"{}\",\n    \
         \"previewModeSigningKey\": \"{}\",\n    \"previewModeEncryptionKey\": \"{}\"\n  }}\n}}\n",
        hex(32, 1),
        hex(64, 2),
        hex(64, 3)
    )
}

#[test]
fn ordinary_files_have_no_findings() {
    let findings = scan_all(&Scanner::new(Allowlist::new()), &corpus());
    assert_eq!(findings, [], "false positives");
}

#[test]
fn strict_scanner_sees_the_next_preview_keys() {
    let findings: Vec<String> = scan_all(&Scanner::strict(Allowlist::new()), &corpus())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        findings,
        [
            "/app/frontend/.next/prerender-manifest.json:6: high-entropy-assignment \
             (high-entropy value assigned to a secret-looking name)",
            "/app/frontend/.next/prerender-manifest.json:7: high-entropy-assignment \
             (high-entropy value assigned to a secret-looking name)",
        ]
    );
}

#[test]
fn a_key_planted_in_any_corpus_file_is_found_on_its_line() {
    let scanner = Scanner::new(Allowlist::new());
    for (seed, (path, content)) in (0_u64..).zip(corpus()) {
        let text = String::from_utf8(content).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let middle = lines.len() / 2;
        let key = fakes::openai(seed);
        let mut planted = lines.clone();
        let line = format!("k = \"{key}\"");
        planted.insert(middle, &line);
        let findings: Vec<_> = scanner
            .scan_file(&path, planted.join("\n").as_bytes())
            .into_iter()
            .map(|f| (f.line, f.rule))
            .collect();
        assert_eq!(findings, [(Some(middle + 1), Rule::OpenAiKey)], "{path}");
    }
}

#[test]
fn a_key_inside_a_minified_line_is_found() {
    let path = corpus_root().join("frontend/.next/static/chunks/app-page-5301.js");
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.lines().count(), 1, "the chunk is one minified line");
    let middle = text.len() / 2;
    let middle = (middle..text.len())
        .find(|&i| text.is_char_boundary(i) && text.as_bytes()[i] == b';')
        .unwrap();
    let planted = format!(
        "{};const k=\"{}\"{}",
        &text[..middle],
        fakes::anthropic(5),
        &text[middle..]
    );
    let findings = Scanner::new(Allowlist::new()).scan_file("/app/page.js", planted.as_bytes());
    assert_eq!(
        findings,
        [Finding {
            path: "/app/page.js".into(),
            line: Some(1),
            rule: Rule::AnthropicKey
        }]
    );
}

#[test]
fn this_crates_own_sources_have_no_findings() {
    // The rule code is full of anchors: key prefixes, PEM header pieces,
    // name words. None of it may look like a secret.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    files(root, &root.join("src"), &mut sources);
    files(root, &root.join("examples"), &mut sources);
    assert!(sources.len() >= 10);
    assert_eq!(scan_all(&Scanner::strict(Allowlist::new()), &sources), []);
}

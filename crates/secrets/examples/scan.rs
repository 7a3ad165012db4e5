//! Scans a directory tree and prints the findings and the throughput.
//!
//! ```text
//! cargo run -p hoist-secrets --example scan --release -- DIR [--reader]
//! ```
//!
//! `--reader` goes through `Scanner::scan_reader` instead of reading each
//! file whole. Paths are shown as found under `DIR`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example that reports to the terminal"
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use hoist_secrets::{Allowlist, Scanner};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next().map(PathBuf::from) else {
        eprintln!("usage: scan DIR [--reader]");
        std::process::exit(2);
    };
    let streaming = args.next().as_deref() == Some("--reader");
    let mut files = Vec::new();
    collect(&root, &mut files)?;
    // Read everything first so the figure is the scanner's, not the disk's.
    let contents: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|path| {
            let shown = path.display().to_string();
            std::fs::read(path).map(|content| (shown, content))
        })
        .collect::<Result<_, _>>()?;
    let bytes: usize = contents.iter().map(|(_, content)| content.len()).sum();
    let scanner = Scanner::new(Allowlist::new());
    let start = Instant::now();
    let mut findings = Vec::new();
    for (path, content) in &contents {
        if streaming {
            findings.extend(scanner.scan_reader(path, content.as_slice())?);
        } else {
            findings.extend(scanner.scan_file(path, content));
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    for finding in &findings {
        println!("{finding}");
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "{} files, {mb:.1} MB, {} findings in {:.3} s: {:.0} MB/s",
        contents.len(),
        findings.len(),
        elapsed,
        mb / elapsed
    );
    Ok(())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

//! Scans a directory tree or a tar file and prints the findings and the
//! throughput.
//!
//! ```text
//! cargo run -p hoist-secrets --example scan --release -- DIR [--reader]
//! cargo run -p hoist-secrets --example scan --release -- ROOTFS.tar
//! ```
//!
//! `--reader` goes through `Scanner::scan_reader` instead of reading each
//! file whole. Paths are shown as found under `DIR`. A `.tar` is streamed
//! entry by entry through `scan_reader`, as an image layer would be; its
//! figure includes reading the tar.
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
    if root.extension().is_some_and(|ext| ext == "tar") {
        return scan_tar(&root);
    }
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

fn scan_tar(path: &Path) -> std::io::Result<()> {
    let scanner = Scanner::new(Allowlist::new());
    let mut archive = tar::Archive::new(std::io::BufReader::new(std::fs::File::open(path)?));
    let start = Instant::now();
    let (mut files, mut bytes, mut findings) = (0_usize, 0_u64, 0_usize);
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let shown = format!(
            "/{}",
            entry.path()?.display().to_string().trim_start_matches("./")
        );
        files += 1;
        bytes += entry.size();
        for finding in scanner.scan_reader(&shown, entry)? {
            findings += 1;
            println!("{finding}");
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mb = bytes as f64 / 1e6;
    println!(
        "{files} files, {mb:.1} MB, {findings} findings in {elapsed:.3} s: {:.0} MB/s",
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

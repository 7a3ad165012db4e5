//! The umbrella's packaged dependencies (committed so that one `helm install`
//! works on a clean clone) against the tier charts' sources.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use super::helm::{TIERS, UMBRELLA, chart_dir};

const FIX: &str =
    "run `helm dependency update charts/todo-chatbot` and commit charts/todo-chatbot/charts";

/// The files of a chart directory, by path relative to it.
fn source_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read chart directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.to_str().expect("UTF-8 chart path").to_owned();
                out.insert(rel, std::fs::read(&path).expect("read chart file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The files of a `helm package` archive, with the chart's directory stripped.
fn packaged_files(archive: &Path, chart: &str) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(archive)
        .unwrap_or_else(|e| panic!("{} is missing ({e}): {FIX}", archive.display()));
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in tar.entries().expect("read chart archive") {
        let mut entry = entry.expect("archive entry");
        let path = entry
            .path()
            .expect("entry path")
            .to_str()
            .expect("UTF-8")
            .to_owned();
        let rel = path
            .strip_prefix(&format!("{chart}/"))
            .unwrap_or_else(|| panic!("{}: {path} is outside {chart}/", archive.display()))
            .to_owned();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).expect("read archive entry");
        out.insert(rel, body);
    }
    out
}

fn chart_version(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("Chart.yaml")).expect("read Chart.yaml");
    let meta: serde_yaml::Value = serde_yaml::from_str(&text).expect("Chart.yaml is YAML");
    meta["version"]
        .as_str()
        .expect("Chart.yaml has a version")
        .to_owned()
}

/// Every difference between the committed packages and the sources, as
/// messages naming the archive, the file and the fix.
pub(super) fn stale_packages() -> Vec<String> {
    let packaged = chart_dir(UMBRELLA).join("charts");
    let mut found = Vec::new();
    let expected: Vec<String> = TIERS
        .iter()
        .map(|tier| format!("{tier}-{}.tgz", chart_version(&chart_dir(tier))))
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(&packaged)
        .map(|dir| {
            dir.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    present.sort();
    let mut wanted = expected.clone();
    wanted.sort();
    if present != wanted {
        found.push(format!(
            "charts/todo-chatbot/charts holds {present:?}, not {wanted:?}: {FIX}"
        ));
    }
    for (tier, archive) in TIERS.iter().zip(&expected) {
        let source = source_files(&chart_dir(tier));
        let archive_path = packaged.join(archive);
        if !archive_path.exists() {
            continue;
        }
        let package = packaged_files(&archive_path, tier);
        let names = source
            .keys()
            .chain(package.keys())
            .collect::<std::collections::BTreeSet<_>>();
        for name in names {
            let same = match (source.get(name), package.get(name)) {
                // helm rewrites Chart.yaml from the parsed metadata.
                (Some(a), Some(b)) if name == "Chart.yaml" => {
                    serde_yaml::from_slice::<serde_yaml::Value>(a).ok()
                        == serde_yaml::from_slice::<serde_yaml::Value>(b).ok()
                }
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if !same {
                found.push(format!(
                    "charts/todo-chatbot/charts/{archive} is stale: {name} differs from charts/{tier}/{name}; {FIX}"
                ));
            }
        }
    }
    found
}

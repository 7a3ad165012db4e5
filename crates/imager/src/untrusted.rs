//! Base image layers are untrusted input: every entry is checked before it is
//! accepted (no traversal, no absolute paths, no links out of the root, no
//! device nodes), and whiteouts are applied wherever layers are flattened.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::layer::FileSize;
use crate::{Error, Result};

/// What a layer holds, learnt in the one pass that checks it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Listing {
    /// Regular files and their sizes.
    pub(crate) files: Vec<FileSize>,
    /// Paths this layer deletes from the layers below (`.wh.<name>`).
    pub(crate) whiteouts: Vec<String>,
    /// Directories whose lower contents this layer hides (`.wh..wh..opq`).
    pub(crate) opaque: Vec<String>,
    /// `etc/passwd`, when this layer has one, to resolve user names.
    pub(crate) passwd: Option<String>,
}

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// An accepted entry, as [`inspect`] hands it on.
pub(crate) struct Accepted<'a> {
    /// The normalised path (no `./`, no leading or trailing slash).
    pub(crate) path: &'a str,
    pub(crate) header: &'a tar::Header,
    /// A symlink's or hard link's target.
    pub(crate) link: Option<&'a str>,
    /// A regular file that is not a whiteout: what the secret scan reads.
    pub(crate) is_content: bool,
}

/// Receives every accepted entry and its data.
pub(crate) type OnEntry<'a> = &'a mut dyn FnMut(&Accepted<'_>, &mut dyn Read) -> Result<()>;

/// Whether device nodes under `dev/` are dropped (root filesystem tars from
/// debootstrap-like tools carry them, and container runtimes mount their own
/// `/dev`) or, like device nodes anywhere else, refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DevNodes {
    Refuse,
    DropUnderDev,
}

/// Reads an uncompressed layer tar, checking every entry and handing each
/// accepted one to `on_entry`.
///
/// # Errors
///
/// [`crate::BaseError::HostileEntry`] naming the entry, or a tar read error.
pub(crate) fn inspect(
    reader: impl Read,
    what: &str,
    dev: DevNodes,
    on_entry: OnEntry<'_>,
) -> Result<Listing> {
    let hostile = |entry: &str, reason: &str| {
        Error::from(crate::BaseError::HostileEntry {
            what: what.to_owned(),
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let read_err = |e: std::io::Error| {
        Error::from(crate::BaseError::Unreadable {
            what: what.to_owned(),
            reason: e.to_string(),
        })
    };
    let mut archive = tar::Archive::new(reader);
    let mut listing = Listing::default();
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalise(&raw).map_err(|reason| hostile(&raw, reason))?;
        let kind = entry.header().entry_type();
        let mut link = None;
        match kind {
            tar::EntryType::Block | tar::EntryType::Char => {
                if dev == DevNodes::DropUnderDev && parent(&path) == "dev" {
                    continue;
                }
                return Err(hostile(&raw, "is a device node"));
            }
            tar::EntryType::Symlink => {
                let target = link_target(&entry)
                    .ok_or_else(|| hostile(&raw, "is a link without a target"))?;
                if !target.starts_with('/') && escapes(&path, &target) {
                    return Err(hostile(
                        &raw,
                        &format!("is a symlink to `{target}`, outside the image root"),
                    ));
                }
                link = Some(target);
            }
            tar::EntryType::Link => {
                let target = link_target(&entry)
                    .ok_or_else(|| hostile(&raw, "is a link without a target"))?;
                if normalise(&target).is_err() {
                    return Err(hostile(
                        &raw,
                        &format!("is a hard link to `{target}`, outside the image root"),
                    ));
                }
                link = Some(target);
            }
            _ => {}
        }
        let header = entry.header().clone();
        let name = path.rsplit('/').next().unwrap_or_default();
        let mut is_content = false;
        if name == OPAQUE {
            listing.opaque.push(parent(&path).to_owned());
        } else if let Some(deleted) = name.strip_prefix(WHITEOUT) {
            let dir = parent(&path);
            listing.whiteouts.push(if dir.is_empty() {
                deleted.to_owned()
            } else {
                format!("{dir}/{deleted}")
            });
        } else if kind == tar::EntryType::Regular || kind == tar::EntryType::Continuous {
            let size = header.size().map_err(read_err)?;
            listing.files.push(FileSize {
                path: path.clone(),
                size,
            });
            is_content = true;
        }
        let accepted = Accepted {
            path: &path,
            header: &header,
            link: link.as_deref(),
            is_content,
        };
        if is_content && path == "etc/passwd" {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(read_err)?;
            on_entry(&accepted, &mut text.as_bytes())?;
            listing.passwd = Some(text);
        } else {
            on_entry(&accepted, &mut entry)?;
        }
    }
    Ok(listing)
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>) -> Option<String> {
    entry
        .link_name_bytes()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// `./a/b/` -> `a/b`; refuses absolute paths and `..`.
fn normalise(raw: &str) -> Result<String, &'static str> {
    if raw.starts_with('/') {
        return Err("has an absolute path");
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("has `..` in its path (path traversal)"),
            Component::RootDir | Component::Prefix(_) => return Err("has an absolute path"),
        }
    }
    Ok(parts.join("/"))
}

/// Whether a relative symlink target, resolved from the link's directory,
/// climbs above the root.
fn escapes(link: &str, target: &str) -> bool {
    let mut depth: i64 = parent(link)
        .split('/')
        .filter(|p| !p.is_empty())
        .count()
        .try_into()
        .unwrap_or(i64::MAX);
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A file in the flattened image and the layer that provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlatFile {
    pub(crate) size: u64,
    pub(crate) layer: usize,
}

/// The files visible in the final image: each layer's whiteouts and opaque
/// directories hide what the layers below it provide.
pub(crate) fn flatten<'a>(
    layers: impl IntoIterator<Item = &'a Listing>,
) -> BTreeMap<String, FlatFile> {
    let mut flat: BTreeMap<String, FlatFile> = BTreeMap::new();
    for (index, listing) in layers.into_iter().enumerate() {
        for dir in &listing.opaque {
            remove_under(&mut flat, dir, false);
        }
        for path in &listing.whiteouts {
            remove_under(&mut flat, path, true);
        }
        for file in &listing.files {
            flat.insert(
                file.path.clone(),
                FlatFile {
                    size: file.size,
                    layer: index,
                },
            );
        }
    }
    flat
}

fn remove_under(flat: &mut BTreeMap<String, FlatFile>, path: &str, itself: bool) {
    if itself {
        flat.remove(path);
    }
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let doomed: Vec<String> = flat
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for key in doomed {
        flat.remove(&key);
    }
}

/// The visible `etc/passwd`, after whiteouts.
pub(crate) fn passwd<'a>(layers: impl IntoIterator<Item = &'a Listing> + Clone) -> Option<&'a str> {
    let flat = flatten(layers.clone());
    let layer = flat.get("etc/passwd")?.layer;
    layers.into_iter().nth(layer)?.passwd.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn raw_entry(
        b: &mut tar::Builder<Vec<u8>>,
        name: &str,
        kind: tar::EntryType,
        link: Option<&str>,
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o644);
        // Written into the header field by hand: the tar crate refuses `..`
        // and absolute paths, which is exactly what a hostile layer contains.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        if let Some(link) = link {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }

    fn check(bytes: &[u8]) -> Result<Listing> {
        inspect(
            bytes,
            "base x layer 1",
            DevNodes::Refuse,
            &mut |_, _| Ok(()),
        )
    }

    #[test]
    fn hostile_entries_are_named() {
        let cases = [
            (
                "../../etc/cron.d/x",
                tar::EntryType::Regular,
                None,
                "`../../etc/cron.d/x` has `..` in its path (path traversal)",
            ),
            (
                "/etc/shadow",
                tar::EntryType::Regular,
                None,
                "`/etc/shadow` has an absolute path",
            ),
            (
                "usr/lib/evil",
                tar::EntryType::Symlink,
                Some("../../../../root"),
                "`usr/lib/evil` is a symlink to `../../../../root`, outside the image root",
            ),
            (
                "hard",
                tar::EntryType::Link,
                Some("../outside"),
                "`hard` is a hard link to `../outside`, outside the image root",
            ),
            (
                "dev/sda",
                tar::EntryType::Block,
                None,
                "`dev/sda` is a device node",
            ),
        ];
        for (name, kind, link, message) in cases {
            let bytes = tar_with(|b| raw_entry(b, name, kind, link));
            let err = check(&bytes).unwrap_err().to_string();
            assert_eq!(err, format!("base x layer 1: refusing entry {message}"));
        }
    }

    #[test]
    fn inside_links_and_dot_slash_paths_are_fine() {
        let bytes = tar_with(|b| {
            raw_entry(
                b,
                "./usr/bin/python3",
                tar::EntryType::Symlink,
                Some("python3.11"),
            );
            raw_entry(
                b,
                "./etc/alternatives/x",
                tar::EntryType::Symlink,
                Some("/usr/bin/x"),
            );
            raw_entry(
                b,
                "./usr/lib/a",
                tar::EntryType::Symlink,
                Some("../../bin/a"),
            );
            raw_entry(b, "./usr/bin/f", tar::EntryType::Regular, None);
            raw_entry(b, "./dev/null", tar::EntryType::Char, None);
        });
        let listing = inspect(&bytes[..], "rootfs", DevNodes::DropUnderDev, &mut |_, _| {
            Ok(())
        })
        .unwrap();
        assert_eq!(
            listing.files,
            [FileSize {
                path: "usr/bin/f".into(),
                size: 0
            }]
        );
    }

    #[test]
    fn whiteouts_hide_lower_files_when_flattening() {
        let lower = Listing {
            files: ["a/secret", "a/keep", "d/x", "d/y", "top"]
                .iter()
                .map(|p| FileSize {
                    path: (*p).into(),
                    size: 1,
                })
                .collect(),
            ..Listing::default()
        };
        let upper = Listing {
            files: vec![FileSize {
                path: "d/z".into(),
                size: 2,
            }],
            whiteouts: vec!["a/secret".into()],
            opaque: vec!["d".into()],
            passwd: None,
        };
        let flat = flatten([&lower, &upper]);
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["a/keep", "d/z", "top"]);
        assert_eq!(flat["d/z"], FlatFile { size: 2, layer: 1 });
    }
}

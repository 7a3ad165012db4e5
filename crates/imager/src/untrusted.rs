//! Base image layers are untrusted input: every entry is checked before it is
//! accepted (no traversal, no absolute paths, no links out of the root, no
//! device nodes, no path through a symlink that an earlier entry or a lower
//! layer made), and whiteouts are applied wherever layers are flattened.
//!
//! A path through a symlink (`app/link -> /etc`, then `app/link/evil`) is
//! the classic extraction escape: an extractor that follows the link writes
//! `/etc/evil` on the host. Within a layer [`inspect`] refuses it; across
//! layers [`check_stack`] does, over the listings (cached per layer), so a
//! layer checked once is still checked against every stack it is used in.
//! A later layer may replace a symlink by a directory (or white it out) and
//! then put entries under that path: that is what overlay filesystems do
//! and is accepted.

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
    /// Symlinks and hard links, with their targets.
    pub(crate) links: Vec<LinkEntry>,
    /// Directories and other entries that are neither regular files, links
    /// nor whiteouts.
    pub(crate) dirs: Vec<String>,
}

/// A link entry of a layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct LinkEntry {
    pub(crate) path: String,
    pub(crate) target: String,
    /// A hard link (its target is a path in the image), else a symlink.
    pub(crate) hard: bool,
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
    // The symlinks this layer has made so far: path -> target.
    let mut symlinks = Symlinks::new();
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalise(&raw).map_err(|reason| hostile(&raw, reason))?;
        if let Some((link, target)) = through(&path, &symlinks, false) {
            return Err(hostile(
                &raw,
                &format!(
                    "has a path through `{link}`, a symlink to `{target}` made by an earlier entry"
                ),
            ));
        }
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::Block | tar::EntryType::Char) {
            if dev == DevNodes::DropUnderDev && parent(&path) == "dev" {
                continue;
            }
            return Err(hostile(&raw, "is a device node"));
        }
        let link = checked_link(kind, &path, link_target(&entry), &symlinks)
            .map_err(|reason| hostile(&raw, &reason))?;
        if kind == tar::EntryType::Symlink {
            symlinks.insert(path.clone(), link.clone().unwrap_or_default());
        } else {
            // A later entry at the same path replaces the link.
            symlinks.remove(&path);
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
        } else if let Some(target) = &link {
            listing.links.push(LinkEntry {
                path: path.clone(),
                target: target.clone(),
                hard: kind == tar::EntryType::Link,
            });
        } else if !path.is_empty() {
            listing.dirs.push(path.clone());
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

/// A link entry's target once it is checked (`None` for other entries);
/// `Err` is why the entry is refused.
fn checked_link(
    kind: tar::EntryType,
    path: &str,
    target: Option<String>,
    symlinks: &Symlinks,
) -> Result<Option<String>, String> {
    let hard = match kind {
        tar::EntryType::Symlink => false,
        tar::EntryType::Link => true,
        _ => return Ok(None),
    };
    let target = target.ok_or("is a link without a target")?;
    if !hard {
        if !target.starts_with('/') && escapes(path, &target) {
            return Err(format!(
                "is a symlink to `{target}`, outside the image root"
            ));
        }
        return Ok(Some(target));
    }
    let resolved = normalise(&target)
        .map_err(|_| format!("is a hard link to `{target}`, outside the image root"))?;
    if let Some((through, to)) = through(&resolved, symlinks, false) {
        return Err(format!(
            "is a hard link to `{target}`, through `{through}`, a symlink to `{to}` made by an earlier entry"
        ));
    }
    Ok(Some(target))
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

/// Symlinks visible so far: path -> target.
type Symlinks = BTreeMap<String, String>;

/// The symlink among `path`'s ancestors (and `path` itself when `itself`),
/// nearest the root first, with its target.
fn through<'a>(path: &str, symlinks: &'a Symlinks, itself: bool) -> Option<(&'a str, &'a str)> {
    if symlinks.is_empty() {
        return None;
    }
    let mut end = 0;
    loop {
        let next = path[end..].find('/').map(|i| end + i);
        let prefix = match next {
            Some(i) => &path[..i],
            None if itself => path,
            None => return None,
        };
        if let Some((link, target)) = symlinks.get_key_value(prefix) {
            return Some((link.as_str(), target.as_str()));
        }
        end = next? + 1;
    }
}

/// Checks a base's layers against each other: no entry of a layer (file,
/// directory, link, whiteout, hard link target) has a path through a symlink
/// that a lower layer made and no layer since replaced or deleted. `what`
/// names the base; layers are named `{what} layer N`.
///
/// # Errors
///
/// [`crate::BaseError::HostileEntry`] naming the entry, the symlink and the
/// layer that made it.
pub(crate) fn check_stack<'a>(
    what: &str,
    layers: impl IntoIterator<Item = &'a Listing>,
) -> Result<()> {
    // Visible symlinks: path -> (target, 1-based layer).
    let mut visible: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for (index, listing) in layers.into_iter().enumerate() {
        let number = index + 1;
        // What this layer deletes or re-creates as something else replaces
        // the lower link before its own entries are looked at.
        for dir in &listing.opaque {
            remove_under(&mut visible, dir, false);
        }
        let replaced = listing
            .whiteouts
            .iter()
            .chain(listing.dirs.iter())
            .chain(listing.files.iter().map(|f| &f.path))
            .chain(listing.links.iter().filter(|l| l.hard).map(|l| &l.path));
        for path in replaced {
            remove_under(&mut visible, path, true);
        }
        if !visible.is_empty() {
            let lower: Symlinks = visible
                .iter()
                .map(|(path, (target, _))| (path.clone(), target.clone()))
                .collect();
            let refuse = |entry: &str, link: &str, target: &str, how: &str| {
                let made_by = visible.get(link).map_or(0, |(_, layer)| *layer);
                Error::from(crate::BaseError::HostileEntry {
                    what: format!("{what} layer {number}"),
                    entry: entry.to_owned(),
                    reason: format!(
                        "{how}through `{link}`, a symlink to `{target}` made by layer {made_by}"
                    ),
                })
            };
            let paths = listing
                .files
                .iter()
                .map(|f| f.path.as_str())
                .chain(listing.dirs.iter().map(String::as_str))
                .chain(listing.links.iter().map(|l| l.path.as_str()))
                .chain(listing.whiteouts.iter().map(String::as_str));
            for path in paths {
                if let Some((link, target)) = through(path, &lower, false) {
                    return Err(refuse(path, link, target, "has a path "));
                }
            }
            for dir in &listing.opaque {
                if let Some((link, target)) = through(dir, &lower, true) {
                    return Err(refuse(dir, link, target, "hides a directory "));
                }
            }
            for hard in listing.links.iter().filter(|l| l.hard) {
                if let Some((link, target)) = through(&hard.target, &lower, false) {
                    let how = format!("is a hard link to `{}`, ", hard.target);
                    return Err(refuse(&hard.path, link, target, &how));
                }
            }
        }
        for link in listing.links.iter().filter(|l| !l.hard) {
            visible.insert(link.path.clone(), (link.target.clone(), number));
        }
    }
    Ok(())
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
        // A file or link over a lower directory hides everything under it.
        for path in listing
            .links
            .iter()
            .map(|l| &l.path)
            .chain(listing.files.iter().map(|f| &f.path))
        {
            remove_under(&mut flat, path, false);
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

/// Removes `path` (when `itself`) and every key under it: a range, not a
/// scan, since a base has thousands of files and links.
fn remove_under<V>(flat: &mut BTreeMap<String, V>, path: &str, itself: bool) {
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
            ..Listing::default()
        };
        let flat = flatten([&lower, &upper]);
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["a/keep", "d/z", "top"]);
        assert_eq!(flat["d/z"], FlatFile { size: 2, layer: 1 });
    }

    fn layer_of(entries: &[(&str, tar::EntryType, Option<&str>)]) -> Result<Listing> {
        let bytes = tar_with(|b| {
            for (name, kind, link) in entries {
                raw_entry(b, name, *kind, *link);
            }
        });
        check(&bytes)
    }

    const LINK: (&str, tar::EntryType, Option<&str>) =
        ("app/link", tar::EntryType::Symlink, Some("/etc"));

    #[test]
    fn a_path_through_a_symlink_of_the_same_layer_is_refused() {
        let cases = [
            (
                ("app/link/evil", tar::EntryType::Regular, None),
                "`app/link/evil` has a path through `app/link`, a symlink to `/etc` made by an earlier entry",
            ),
            (
                ("app/link/.wh.passwd", tar::EntryType::Regular, None),
                "`app/link/.wh.passwd` has a path through `app/link`, a symlink to `/etc` made by an earlier entry",
            ),
            (
                ("app/link/cron.d", tar::EntryType::Directory, None),
                "`app/link/cron.d` has a path through `app/link`, a symlink to `/etc` made by an earlier entry",
            ),
            (
                ("app/hard", tar::EntryType::Link, Some("app/link/shadow")),
                "`app/hard` is a hard link to `app/link/shadow`, through `app/link`, a symlink to `/etc` made by an earlier entry",
            ),
        ];
        for (entry, message) in cases {
            let err = layer_of(&[LINK, entry]).unwrap_err().to_string();
            assert_eq!(err, format!("base x layer 1: refusing entry {message}"));
        }
    }

    #[test]
    fn a_symlink_replaced_by_a_directory_may_hold_entries() {
        let listing = layer_of(&[
            LINK,
            ("app/link", tar::EntryType::Directory, None),
            ("app/link/fine", tar::EntryType::Regular, None),
            ("app/other", tar::EntryType::Symlink, Some("link")),
        ])
        .unwrap();
        assert_eq!(listing.files.len(), 1);
        assert_eq!(listing.dirs, ["app/link"]);
        assert_eq!(
            listing.links,
            [
                LinkEntry {
                    path: "app/link".into(),
                    target: "/etc".into(),
                    hard: false
                },
                LinkEntry {
                    path: "app/other".into(),
                    target: "link".into(),
                    hard: false
                }
            ]
        );
    }

    #[test]
    fn a_path_through_a_lower_layers_symlink_is_refused_naming_both() {
        let lower = layer_of(&[("app", tar::EntryType::Directory, None), LINK]).unwrap();
        let cases = [
            (
                vec![("app/link/evil", tar::EntryType::Regular, None)],
                "base b layer 2: refusing entry `app/link/evil` has a path through `app/link`, a symlink to `/etc` made by layer 1",
            ),
            (
                vec![("app/link/.wh.shadow", tar::EntryType::Regular, None)],
                "base b layer 2: refusing entry `app/link/shadow` has a path through `app/link`, a symlink to `/etc` made by layer 1",
            ),
            (
                vec![("app/link/.wh..wh..opq", tar::EntryType::Regular, None)],
                "base b layer 2: refusing entry `app/link` hides a directory through `app/link`, a symlink to `/etc` made by layer 1",
            ),
            (
                vec![("h", tar::EntryType::Link, Some("app/link/shadow"))],
                "base b layer 2: refusing entry `h` is a hard link to `app/link/shadow`, through `app/link`, a symlink to `/etc` made by layer 1",
            ),
        ];
        for (entries, message) in cases {
            let upper = layer_of(&entries).unwrap();
            let err = check_stack("base b", [&lower, &upper]).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        // Replaced by a directory, or deleted, in a later layer: fine, in
        // that layer and in the ones above it.
        let replaced = layer_of(&[
            ("app/link", tar::EntryType::Directory, None),
            ("app/link/a", tar::EntryType::Regular, None),
        ])
        .unwrap();
        let deleted = layer_of(&[("app/.wh.link", tar::EntryType::Regular, None)]).unwrap();
        let above = layer_of(&[("app/link/b", tar::EntryType::Regular, None)]).unwrap();
        check_stack("base b", [&lower, &replaced, &above]).unwrap();
        check_stack("base b", [&lower, &deleted, &above]).unwrap();
        // A link made again above a replacement counts again.
        let again = layer_of(&[LINK]).unwrap();
        let err = check_stack("base b", [&lower, &replaced, &again, &above]).unwrap_err();
        assert!(err.to_string().contains("made by layer 3"), "{err}");
    }

    #[test]
    fn a_file_or_link_over_a_lower_directory_hides_its_contents() {
        let lower = layer_of(&[
            ("d/x", tar::EntryType::Regular, None),
            ("e/y", tar::EntryType::Regular, None),
            ("keep", tar::EntryType::Regular, None),
        ])
        .unwrap();
        let upper = layer_of(&[
            ("d", tar::EntryType::Symlink, Some("/etc")),
            ("e", tar::EntryType::Regular, None),
        ])
        .unwrap();
        let flat = flatten([&lower, &upper]);
        assert_eq!(flat.keys().collect::<Vec<_>>(), ["e", "keep"]);
    }
}

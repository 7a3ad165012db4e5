//! `cargo xtask bases`: the offline base root filesystems that tests and the
//! reference app build on, made from Debian packages with mmdebstrap.
//!
//! No container registry is reachable on our machines, so these tarballs are
//! where every image's userland comes from. mmdebstrap uses the machine's own
//! apt sources, so no mirror is named here. Each tarball is reused while its
//! recipe (suite, packages, excludes) is unchanged: the recipe is stored next
//! to it and compared before anything is built.
//!
//! `--seed-mirror HOST:PORT` then pushes the stand-ins of the reference
//! app's public bases into a local Docker Hub mirror (see [`crate::mirror`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cmd;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the tarballs go; default $HOIST_BASES_DIR, else ~/.cache/hoist/bases.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Build these bases only (python, node, postgres, containerd-node).
    #[arg(value_name = "NAME")]
    only: Vec<String>,
    /// Rebuild even when a tarball with the same recipe exists.
    #[arg(long)]
    force: bool,
    /// Then push the reference app's bases (python, node, postgres) to this
    /// Docker Hub mirror under their public names; blobs it has are skipped.
    #[arg(long, value_name = "HOST:PORT")]
    seed_mirror: Option<String>,
}

/// One base: a name, the packages beyond minbase, system users created
/// before the packages are installed, and files to delete after installation.
struct Base {
    name: &'static str,
    packages: &'static [&'static str],
    users: &'static [SystemUser],
    remove: &'static [&'static str],
}

/// A system user (and its group of the same name and id) made before the
/// packages install, so that a package's `adduser --system` finds it and keeps
/// its id instead of taking the next free one.
struct SystemUser {
    name: &'static str,
    id: u32,
    home: &'static str,
}

const SUITE: &str = "bookworm";

const BASES: &[Base] = &[
    Base {
        name: "python",
        packages: &["python3", "ca-certificates"],
        users: &[],
        remove: &[],
    },
    Base {
        name: "node",
        packages: &["nodejs", "ca-certificates"],
        users: &[],
        remove: &[],
    },
    // A node image for the delivery tests: containerd as kind and Minikube
    // nodes run it, fed through `ctr images import` over a Docker exec.
    Base {
        name: "containerd-node",
        packages: &["containerd"],
        users: &[],
        remove: &[],
    },
    // ssl-cert generates a private key at install time: a secret in every
    // image built on this base, and a different one at each build. Our
    // PostgreSQL entrypoint initialises its own data directory without SSL.
    Base {
        name: "postgres",
        packages: &["postgresql-15"],
        // The official postgres image's uid and gid, which charts/todo-database
        // runs as; Debian would hand out the next free system id (100 here).
        users: &[SystemUser {
            name: "postgres",
            id: 999,
            home: "/var/lib/postgresql",
        }],
        remove: &[
            "/etc/ssl/private/ssl-cert-snakeoil.key",
            "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        ],
    },
];

/// dpkg path excludes: documentation, manual pages and locales are dead weight
/// in an image. Copyright files stay (licences travel with the binaries).
const EXCLUDES: &[&str] = &[
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/linda/*",
];

impl SystemUser {
    fn passwd_line(&self) -> String {
        format!("{0}:x:{1}:{1}::{2}:/bin/sh", self.name, self.id, self.home)
    }

    /// An mmdebstrap essential hook: base-passwd has written /etc/passwd and
    /// /etc/group by then, and no package has asked for this user yet.
    fn hook(&self) -> String {
        format!(
            "--essential-hook=echo '{}' >> \"$1/etc/passwd\" && echo '{}:x:{}:' >> \"$1/etc/group\"",
            self.passwd_line(),
            self.name,
            self.id
        )
    }
}

impl Base {
    /// The recipe text stored beside the tarball; a difference means rebuild.
    fn recipe(&self) -> String {
        let mut recipe = format!(
            "suite={SUITE}\nvariant=minbase\npackages={}\nexcludes={}\n",
            self.packages.join(","),
            EXCLUDES.join(",")
        );
        if !self.users.is_empty() {
            let users: Vec<String> = self.users.iter().map(SystemUser::passwd_line).collect();
            recipe = format!("{recipe}users={}\n", users.join(","));
        }
        if !self.remove.is_empty() {
            recipe = format!("{recipe}remove={}\n", self.remove.join(","));
        }
        recipe
    }
}

fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HOIST_BASES_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    cache.join("hoist/bases")
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    if let Some(unknown) = args
        .only
        .iter()
        .find(|name| !BASES.iter().any(|base| base.name == name.as_str()))
    {
        bail!("no base named {unknown:?}; the bases are: python, node, postgres, containerd-node");
    }
    let selected: Vec<&Base> = BASES
        .iter()
        .filter(|base| args.only.is_empty() || args.only.iter().any(|n| n == base.name))
        .collect();
    println!("{:<10} {:>10} {:>9}  tarball", "base", "size", "time");
    for base in &selected {
        let tarball = dir.join(format!("{}.tar", base.name));
        let recipe_file = dir.join(format!("{}.recipe", base.name));
        let started = Instant::now();
        let fresh = !args.force
            && tarball.is_file()
            && std::fs::read_to_string(&recipe_file).is_ok_and(|stored| stored == base.recipe());
        let how = if fresh {
            "reused"
        } else {
            build(base, &tarball)?;
            std::fs::write(&recipe_file, base.recipe())
                .with_context(|| format!("failed to write {}", recipe_file.display()))?;
            "built"
        };
        let size = std::fs::metadata(&tarball)
            .with_context(|| format!("failed to stat {}", tarball.display()))?
            .len();
        println!(
            "{:<10} {:>7.1} MB {:>8.1}s  {} ({how})",
            base.name,
            size as f64 / 1_000_000.0,
            started.elapsed().as_secs_f64(),
            tarball.display()
        );
    }
    if let Some(mirror) = &args.seed_mirror {
        let names: Vec<&str> = selected.iter().map(|base| base.name).collect();
        crate::mirror::seed(&dir, mirror, &names)?;
    }
    Ok(())
}

/// Builds into a temporary name and renames, so an interrupted build never
/// leaves a tarball that looks complete.
fn build(base: &Base, tarball: &Path) -> anyhow::Result<()> {
    let partial = tarball.with_extension("tar.partial");
    let mut command = Command::new("mmdebstrap");
    command
        .args([
            "--quiet",
            "--variant=minbase",
            "--mode=root",
            "--format=tar",
        ])
        .arg(format!("--include={}", base.packages.join(",")))
        .args(EXCLUDES.iter().map(|rule| format!("--dpkgopt={rule}")))
        .args(base.users.iter().map(SystemUser::hook))
        .args(
            base.remove
                .iter()
                .map(|path| format!("--customize-hook=rm -f \"$1{path}\"")),
        )
        // Fixed timestamps make the tarball (and every image built on it) reproducible.
        .env("SOURCE_DATE_EPOCH", "0")
        .arg(SUITE)
        .arg(&partial);
    if which("mmdebstrap").is_none() {
        bail!("mmdebstrap is not installed; install it with `apt-get install -y mmdebstrap`");
    }
    cmd::run(&mut command)?;
    std::fs::rename(&partial, tarball)
        .with_context(|| format!("failed to move {} into place", partial.display()))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}

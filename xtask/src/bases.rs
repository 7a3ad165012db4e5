//! `cargo xtask bases`: offline base root filesystems built with mmdebstrap.

#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("bases is being written")
}

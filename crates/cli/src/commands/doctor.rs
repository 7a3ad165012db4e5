//! `hoist doctor`: prerequisite checks.

use std::process::ExitCode;

use crate::cli::{DoctorArgs, Global};

pub(crate) async fn run(_global: &Global, _args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("doctor is being written")
}

//! `agentgate send` (to be written).

use std::process::ExitCode;

use clap::Args;

use crate::cli::GlobalOpts;

/// Arguments of `agentgate send`.
#[derive(Debug, Args)]
pub struct SendArgs {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, _args: SendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}

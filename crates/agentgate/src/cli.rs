//! Command-line structure. Each subcommand's arguments and behaviour live in its own
//! module; this file only names them and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{admin, bench, config_cmd, health, inbox, send, serve};

/// agentgate: one gateway through which software agents register, find each other and
/// exchange messages.
#[derive(Debug, Parser)]
#[command(name = "agentgate", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted anywhere on the command line.
#[derive(Clone, Debug, Args)]
pub struct GlobalOpts {
    /// Configuration file (YAML).
    #[arg(long, global = true, env = "AGENTGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Base URL of the gateway, for client commands.
    #[arg(
        long,
        global = true,
        env = "AGENTGATE_GATEWAY_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub gateway_url: String,
    /// File holding an admin key (first non-comment line), for admin commands.
    #[arg(
        long,
        global = true,
        env = "AGENTGATE_ADMIN_KEY_FILE",
        value_name = "FILE"
    )]
    pub admin_key_file: Option<PathBuf>,
    /// Print results as JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(serve::ServeArgs),
    /// Inspect configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        command: config_cmd::ConfigCommand,
    },
    /// Probe a running gateway's /health or /ready (for container health checks).
    HealthCheck(health::HealthCheckArgs),
    /// Administer agents and schemas.
    Admin {
        /// What to administer.
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Read or acknowledge an agent's inbox.
    Inbox {
        /// What to do.
        #[command(subcommand)]
        command: inbox::InboxCommand,
    },
    /// Send a message as a local agent.
    Send(send::SendArgs),
    /// Load generators.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

/// Which global options were given explicitly (on the command line or through their
/// environment variable) rather than left at their defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Given {
    /// `--gateway-url` / `AGENTGATE_GATEWAY_URL`.
    pub gateway_url: bool,
}

impl Given {
    /// Reads the sources out of parsed matches.
    pub fn from_matches(matches: &clap::ArgMatches) -> Given {
        use clap::parser::ValueSource;
        // Global options are propagated to the subcommand's matches; look there too.
        let mut m = Some(matches);
        let mut gateway_url = false;
        while let Some(cur) = m {
            gateway_url |= matches!(
                cur.value_source("gateway_url"),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            m = cur.subcommand().map(|(_, sub)| sub);
        }
        Given { gateway_url }
    }
}

/// Runs the chosen command, knowing which global options were given explicitly.
pub fn dispatch(cli: Cli, given: Given) -> anyhow::Result<ExitCode> {
    let g = cli.global;
    match cli.command {
        Command::Serve(args) => serve::run(&g, args),
        Command::Config { command } => config_cmd::run(&g, command),
        Command::HealthCheck(args) => health::run(&g, args, given),
        Command::Admin { command } => admin::run(&g, command),
        Command::Inbox { command } => inbox::run(&g, command),
        Command::Send(args) => send::run(&g, args),
        Command::Bench { command } => bench::run(&g, command),
    }
}

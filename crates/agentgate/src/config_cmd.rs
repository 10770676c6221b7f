//! `agentgate config …`, and the one place the binary turns its command line and
//! environment into a [`Loaded`] configuration (used by `serve` and `health-check` too).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use agentgate_gateway::config::{self, ConfigError, Loaded, Override};
use clap::{Args, Subcommand};

use crate::cli::GlobalOpts;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (file, environment, flags) and print the effective
    /// result: YAML, or JSON with --json. Warnings go to stderr. Exit 0 when valid, 1
    /// when not.
    Check(CheckArgs),
}

/// Arguments of `agentgate config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The same overrides `serve` accepts, to check an exact invocation.
    #[command(flatten)]
    pub overrides: ConfigOverrides,
}

/// Flags that override the three most used keys, above every other layer.
#[derive(Clone, Debug, Default, Args)]
pub struct ConfigOverrides {
    /// Address and port to listen on (server.listen), e.g. 0.0.0.0:8080.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// The domain this gateway serves (server.domain).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Data directory of the embedded store (storage.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ConfigOverrides {
    fn to_overrides(&self) -> Vec<Override> {
        let mut out = Vec::new();
        if let Some(v) = &self.listen {
            out.push(Override::new("server.listen", v.clone(), "--listen"));
        }
        if let Some(v) = &self.domain {
            out.push(Override::new("server.domain", v.clone(), "--domain"));
        }
        if let Some(v) = &self.data_dir {
            out.push(Override::new(
                "storage.data_dir",
                v.to_string_lossy().into_owned(),
                "--data-dir",
            ));
        }
        out
    }
}

/// The process environment as the loader wants it: only the variables it reads
/// (`AGENTGATE_…`, `AMTP_…`), converted lossily if they are not UTF-8.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_string_lossy().into_owned();
            (k.starts_with("AGENTGATE_") || k.starts_with("AMTP_"))
                .then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Loads configuration from `--config` (or `AGENTGATE_CONFIG`), the process environment
/// and `overrides`.
pub fn load(g: &GlobalOpts, overrides: &ConfigOverrides) -> Result<Loaded, ConfigError> {
    // An empty --config / AGENTGATE_CONFIG means "no file".
    let file = g.config.as_deref().filter(|p| !p.as_os_str().is_empty());
    config::load_with_overrides(file, process_env(), &overrides.to_overrides())
}

/// Runs the command.
pub fn run(g: &GlobalOpts, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Check(args) => check(g, &args),
    }
}

fn check(g: &GlobalOpts, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = match load(g, &args.overrides) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // Catch an unusable certificate or key now rather than at startup.
    if let Err(e) = agentgate_gateway::server::tls_server_config(&loaded.config.tls) {
        eprintln!("error: {e:#}");
        return Ok(ExitCode::FAILURE);
    }
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let text = if g.json {
        serde_json::to_string_pretty(&config::redact(&loaded.config))? + "\n"
    } else {
        let source = match &loaded.file {
            Some(f) => format!("file {}", f.display()),
            None => "no file".to_string(),
        };
        format!(
            "# effective configuration ({source}; credentials masked)\n{}",
            config::to_yaml(&loaded.config)
        )
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

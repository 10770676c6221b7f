//! `agentgate serve`: load and validate configuration, start logging, run the gateway
//! until SIGTERM or SIGINT, shut down gracefully.
//!
//! Exit status: 0 after a clean shutdown; 2 when the configuration is invalid (nothing
//! has been bound or opened by then; service managers can treat 2 as "do not restart");
//! 1 when the gateway fails to start or stops with an error; 130 when a second signal
//! cut the graceful shutdown short.

use std::process::ExitCode;
use std::time::Duration;

use agentgate_gateway::config::Loaded;
use agentgate_gateway::{server, telemetry};
use anyhow::Context as _;
use clap::Args;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{info, warn};

use crate::cli::GlobalOpts;
use crate::config_cmd::{self, ConfigOverrides};

/// Exit status for an invalid configuration.
pub const EXIT_INVALID_CONFIG: u8 = 2;
/// Exit status when a second signal interrupts the graceful shutdown.
pub const EXIT_FORCED: i32 = 130;

/// Arguments of `agentgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Overrides of server.listen, server.domain and storage.data_dir.
    #[command(flatten)]
    pub overrides: ConfigOverrides,
}

/// Runs the command.
pub fn run(g: &GlobalOpts, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let loaded = match config_cmd::load(g, &args.overrides) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("agentgate: invalid configuration: {e}");
            return Ok(ExitCode::from(EXIT_INVALID_CONFIG));
        }
    };
    telemetry::init(&loaded.config.logging)?;
    let outcome = run_logged(loaded);
    telemetry::shutdown();
    outcome
}

/// Runs the gateway once logging is up; every log line is written before it returns.
fn run_logged(loaded: Loaded) -> anyhow::Result<ExitCode> {
    match &loaded.file {
        Some(f) => info!(file = %f.display(), "configuration loaded"),
        None => info!("configuration loaded (no file)"),
    }
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("agentgate")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        // Install the handlers before anything starts, so a signal during startup is
        // kept and acted on once the server is up rather than killing the process.
        let signals = Signals::new()?;
        server::run(loaded.config, signals.first_then_force()).await
    });
    // Tasks still running after a clean stop (e.g. blocking I/O) get a bounded wait.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result?;
    info!("agentgate stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM and SIGINT.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }

    /// Completes on the first signal; a second one exits the process at once.
    async fn first_then_force(mut self) {
        let first = self.next().await;
        info!(
            signal = first,
            "shutting down gracefully; send the signal again to exit at once"
        );
        tokio::spawn(async move {
            let second = self.next().await;
            warn!(signal = second, "second signal: exiting without waiting");
            telemetry::shutdown();
            eprintln!("agentgate: {second} received twice; exiting immediately");
            std::process::exit(EXIT_FORCED);
        });
    }
}

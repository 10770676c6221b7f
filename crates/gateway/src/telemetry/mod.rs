//! Logging: one `tracing` subscriber for the process, to stderr, as JSON lines
//! ([`JsonLines`]) or text.
//!
//! Lines are formatted on the thread that logs and written by a dedicated thread
//! (`agentgate-log`) through a 64 KiB buffer that is flushed whenever no more lines are
//! waiting, so a busy gateway makes one `write` per batch of lines instead of one per
//! line, and a slow log consumer never stalls a request until 128k lines are queued
//! (then logging threads wait: lines are never dropped). [`shutdown`] flushes what is
//! queued; after a `SIGKILL` the lines still queued are lost, as with any buffered log.
//!
//! The filter is `logging.level`: a level (`info`) or a full filter directive
//! (`info,agentgate_gateway=debug`). A bare level applies to agentgate itself; the
//! libraries beneath it (storage engine, HTTP, TLS) log at `warn` at most, because their
//! `info` and `debug` lines are internal bookkeeping. A directive is used exactly as
//! written. The environment is not consulted (`RUST_LOG` has no effect); set
//! `AGENTGATE_LOGGING__LEVEL` instead, like any other key.

use std::io::BufWriter;
use std::sync::Mutex;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LoggingConfig};

mod json_lines;

pub use json_lines::JsonLines;

/// Size of the buffer between the log thread and stderr.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// The log thread's guard: dropping it flushes the queued lines and stops the thread.
static LOG_WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Installs the process-wide subscriber described by `config`.
///
/// Fails if the level is not a valid filter (configuration validation already refuses
/// those) or if a subscriber is already installed.
pub fn init(config: &LoggingConfig) -> anyhow::Result<()> {
    let directives = filter_directives(&config.level);
    let filter = EnvFilter::try_new(&directives)
        .map_err(|e| anyhow::anyhow!("invalid logging.level {:?}: {e}", config.level))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("agentgate-log")
        .finish(BufWriter::with_capacity(
            LOG_BUFFER_BYTES,
            std::io::stderr(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_span_events(FmtSpan::NONE)
        .with_target(true);
    let result = match config.format {
        LogFormat::Json => builder.event_format(JsonLines).try_init(),
        // Colours only for a person at a terminal, never into files or journald.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    *LOG_WRITER.lock().unwrap_or_else(|p| p.into_inner()) = Some(guard);
    Ok(())
}

/// Writes out every queued log line and stops the log thread. Call it last, before the
/// process exits; lines logged afterwards are discarded.
pub fn shutdown() {
    let guard = LOG_WRITER.lock().unwrap_or_else(|p| p.into_inner()).take();
    drop(guard);
}

/// Libraries whose logs are capped at `warn` under a bare level.
const QUIET_LIBRARIES: &[&str] = &[
    "fjall",
    "lsm_tree",
    "redb",
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "rustls",
    "tokio_rustls",
];

/// The filter for `level`: a bare level gets the library caps; a directive is kept.
pub fn filter_directives(level: &str) -> String {
    let level = level.trim();
    let bare = match level.to_ascii_lowercase().as_str() {
        l @ ("error" | "off") => Some(l.to_string()),
        "warn" | "info" | "debug" | "trace" => Some("warn".to_string()),
        _ => None,
    };
    match bare {
        None => level.to_string(),
        Some(cap) => {
            let mut d = level.to_ascii_lowercase();
            for lib in QUIET_LIBRARIES {
                d.push_str(&format!(",{lib}={cap}"));
            }
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter_directives;

    #[test]
    fn bare_levels_quiet_libraries_and_directives_are_kept() {
        let d = filter_directives("INFO");
        assert!(d.starts_with("info,") && d.contains("fjall=warn"), "{d}");
        assert!(filter_directives("error").contains("hyper=error"));
        let custom = "info,fjall=debug";
        assert_eq!(filter_directives(custom), custom);
        for l in ["error", "warn", "info", "debug", "trace", "off", custom] {
            tracing_subscriber::EnvFilter::try_new(filter_directives(l)).unwrap();
        }
    }
}

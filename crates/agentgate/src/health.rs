//! `agentgate health-check`: one GET of a gateway's `/health` (or `/ready`), for container
//! HEALTHCHECKs and scripts. Exit 0 when the answer is 200, 1 otherwise (no answer
//! within the timeout, refused connection, TLS failure, any other status).
//!
//! Which gateway: `--url`, else `--gateway-url` when given explicitly, else the one this
//! host's configuration describes (the same `--config`/environment as `serve`):
//! `server.listen` with an unspecified address probed on loopback, over HTTPS when TLS is
//! on. In that last case the gateway's own certificate file (`tls.cert_file`) is trusted
//! and the request names `server.domain`, so a self-signed certificate for the domain
//! verifies without `--insecure`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use agentgate_gateway::config::Config;
use anyhow::Context as _;
use clap::Args;

use crate::cli::{Given, GlobalOpts};
use crate::config_cmd::{self, ConfigOverrides};

/// Arguments of `agentgate health-check`.
#[derive(Debug, Args)]
pub struct HealthCheckArgs {
    /// Base URL of the gateway to probe (default: derived from the configuration).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Probe /ready (dependencies usable) instead of /health (process alive).
    #[arg(long)]
    pub ready: bool,
    /// Do not verify the server's certificate (self-signed certificates on loopback).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub timeout: f64,
}

/// How to reach the gateway.
struct Target {
    url: String,
    /// Extra trusted certificate (PEM), from the configuration.
    trust_pem: Option<Vec<u8>>,
    /// Resolve this host name to this address (server.domain → loopback).
    resolve: Option<(String, SocketAddr)>,
}

/// Runs the command.
pub fn run(g: &GlobalOpts, args: HealthCheckArgs, given: Given) -> anyhow::Result<ExitCode> {
    let path = if args.ready { "/ready" } else { "/health" };
    let target = match (&args.url, given.gateway_url) {
        (Some(url), _) => explicit(url, path),
        (None, true) => explicit(&g.gateway_url, path),
        (None, false) => match config_cmd::load(g, &ConfigOverrides::default()) {
            Ok(loaded) => from_config(&loaded.config, path)?,
            Err(e) => {
                eprintln!("error: cannot derive the gateway URL from the configuration: {e}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
        anyhow::bail!("--timeout must be between 0 and 3600 seconds");
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(probe(&target, args.insecure, timeout));
    let healthy = matches!(outcome, Ok((200, _)));
    if g.json {
        let v = match &outcome {
            Ok((status, body)) => serde_json::json!({
                "url": target.url, "healthy": healthy, "status": status, "body": body,
            }),
            Err(e) => serde_json::json!({
                "url": target.url, "healthy": false, "error": format!("{e:#}"),
            }),
        };
        println!("{v}");
    } else {
        match &outcome {
            Ok((200, _)) => println!("healthy: {} answered 200", target.url),
            Ok((status, body)) => {
                eprintln!("unhealthy: {} answered {status}: {body}", target.url)
            }
            Err(e) => eprintln!("unhealthy: {}: {e:#}", target.url),
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn explicit(base: &str, path: &str) -> Target {
    Target {
        url: format!("{}{path}", base.trim_end_matches('/')),
        trust_pem: None,
        resolve: None,
    }
}

fn from_config(c: &Config, path: &str) -> anyhow::Result<Target> {
    let listen = c.server.listen;
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, listen.port());
    if !c.tls.enabled {
        return Ok(explicit(&format!("http://{addr}"), path));
    }
    let trust_pem = match &c.tls.cert_file {
        Some(f) => Some(
            std::fs::read(f)
                .with_context(|| format!("cannot read tls.cert_file {}", f.display()))?,
        ),
        None => None,
    };
    // Name the domain (what the certificate is for) but connect to the listener.
    let domain = c.server.domain.clone();
    Ok(Target {
        url: format!("https://{domain}:{}{path}", listen.port()),
        trust_pem,
        resolve: Some((domain, addr)),
    })
}

async fn probe(t: &Target, insecure: bool, timeout: Duration) -> anyhow::Result<(u16, String)> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "agentgate-health-check/",
            env!("CARGO_PKG_VERSION")
        ));
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(pem) = &t.trust_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem)
            .context("tls.cert_file holds no usable PEM certificate")?
        {
            b = b.add_root_certificate(cert);
        }
    }
    if let Some((host, addr)) = &t.resolve {
        b = b.resolve(host, *addr);
    }
    let client = b.build().context("cannot build the HTTP client")?;
    let resp = client.get(&t.url).send().await?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    Ok((status, body.trim().to_string()))
}

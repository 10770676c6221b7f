//! The server shell: binds `server.listen`, serves the HTTP router over plain HTTP or
//! TLS, bounds connections, and shuts down gracefully.
//!
//! # Lifecycle
//! [`start`] builds the TLS configuration (so a bad certificate fails before anything is
//! bound), binds the listener, opens the [`App`] (store, admin keys, workers) and starts
//! accepting. It returns a [`Running`] handle with the address actually bound, which is
//! what in-process tests use with port 0. [`Running::stop`] (or [`run`]'s shutdown
//! future) then:
//! 1. tells the [`App`] to end long-polls, stop taking push jobs and fail readiness,
//!    then stops accepting and closes the listening socket;
//! 2. asks every connection to finish: HTTP/1 connections close after the response in
//!    flight, HTTP/2 connections send GOAWAY and finish their open streams;
//! 3. waits up to `server.shutdown_grace` for that, then cuts the connections still open;
//! 4. calls [`App::shutdown`], which stops the workers and flushes and closes the store.
//!
//! # Admission
//! At most `server.max_connections` connections are served at once. The permit is taken
//! *before* `accept`, so excess clients wait in the kernel's backlog instead of costing
//! memory here, and it travels with the socket, so an upgraded connection (WebSocket)
//! keeps counting until it closes.
//!
//! Each request carries [`axum::extract::ConnectInfo`]`<SocketAddr>` with the peer's
//! address, so handlers may extract it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service as _;
use tracing::{debug, info, warn};

use crate::app::App;
use crate::config::{Config, TlsConfig, TlsVersion};

/// Longest time a client may take to complete the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a client may take to send a request's headers (slow-loris guard); also
/// how long an idle HTTP/1 keep-alive connection is kept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// After the grace period, how long to wait for cut connections to be torn down.
const TEARDOWN_WAIT: Duration = Duration::from_secs(5);

/// Runs the gateway until `shutdown` completes, then stops it gracefully (see the
/// [module documentation](self)). Returns once the store is flushed and closed.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let running = start(config).await?;
    shutdown.await;
    info!("shutdown requested; draining connections");
    running.stop().await
}

/// Opens the application and starts serving it on `server.listen`.
pub async fn start(mut config: Config) -> anyhow::Result<Running> {
    let tls = tls_server_config(&config.tls)?;
    let listener = bind(config.server.listen).await?;
    // The application sees the address actually bound (port 0 resolved), so URLs it
    // derives from `server.listen` are reachable.
    config.server.listen = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let app = App::open(&config)
        .await
        .context("cannot open the gateway")?;
    let router = crate::http::router(app.clone());
    match serve(listener, tls, router, &config) {
        Ok(mut running) => {
            running.app = Some(app);
            Ok(running)
        }
        Err(e) => {
            app.shutdown().await;
            Err(e)
        }
    }
}

/// Serves any `router` the way [`start`] serves the gateway's, without opening an
/// [`App`]: for tests of the shell itself and for tools embedding a router.
/// [`Running::stop`] then only drains connections.
pub async fn start_with_router(config: &Config, router: Router) -> anyhow::Result<Running> {
    let tls = tls_server_config(&config.tls)?;
    let listener = bind(config.server.listen).await?;
    serve(listener, tls, router, config)
}

/// A gateway that is serving. Dropping it without [`stop`](Running::stop) cuts every
/// connection at once and does not shut the [`App`] down.
pub struct Running {
    /// The address actually bound: `server.listen` with port 0 resolved.
    pub local_addr: SocketAddr,
    app: Option<Arc<App>>,
    grace: Duration,
    drain: CancellationToken,
    kill: CancellationToken,
    tracker: TaskTracker,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.tracker.len())
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The application being served, when started by [`start`].
    pub fn app(&self) -> Option<&Arc<App>> {
        self.app.as_ref()
    }

    /// Connections currently open (including ones still in the TLS handshake).
    pub fn connections(&self) -> usize {
        self.tracker.len()
    }

    /// Stops gracefully: stop accepting, let in-flight requests finish within
    /// `server.shutdown_grace`, cut what remains, then shut the application down.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // End long-polls, stop taking push jobs and turn /ready to 503 first, so that
        // waiting requests do not hold the drain for the whole grace period.
        if let Some(app) = &self.app {
            app.begin_shutdown();
        }
        self.drain.cancel();
        if let Some(accept) = self.accept.take()
            && let Err(e) = accept.await
        {
            warn!(error = %e, "accept loop ended abnormally");
        }
        self.tracker.close();
        let open = self.tracker.len();
        if open > 0 {
            info!(connections = open, grace = ?self.grace, "waiting for connections to finish");
        }
        if tokio::time::timeout(self.grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                connections = self.tracker.len(),
                "shutdown grace period over; closing the remaining connections"
            );
            self.kill.cancel();
            if tokio::time::timeout(TEARDOWN_WAIT, self.tracker.wait())
                .await
                .is_err()
            {
                warn!(
                    connections = self.tracker.len(),
                    "connections did not close"
                );
            }
        }
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        info!("stopped");
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // After `stop` these are already cancelled; otherwise cut everything now so no
        // task outlives the handle.
        self.drain.cancel();
        self.kill.cancel();
    }
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (server.listen)"))
}

fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    config: &Config,
) -> anyhow::Result<Running> {
    let local_addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let drain = CancellationToken::new();
    let kill = CancellationToken::new();
    let tracker = TaskTracker::new();
    let shared = Arc::new(Shared {
        router,
        tls: tls.map(TlsAcceptor::from),
        drain: drain.clone(),
        kill: kill.clone(),
    });
    let limit = Arc::new(Semaphore::new(config.server.max_connections));
    let accept = tokio::spawn(accept_loop(
        listener,
        limit,
        shared.clone(),
        tracker.clone(),
    ));
    info!(
        local_addr = %local_addr,
        domain = %config.server.domain,
        backend = config.storage.backend.as_str(),
        tls = shared.tls.is_some(),
        tls_min_version = config.tls.min_version.as_str(),
        public_url = %{
            let mut bound = config.clone();
            bound.server.listen = local_addr;
            bound.effective_public_url()
        },
        max_connections = config.server.max_connections,
        "agentgate listening"
    );
    Ok(Running {
        local_addr,
        app: None,
        grace: config.server.shutdown_grace,
        drain,
        kill,
        tracker,
        accept: Some(accept),
    })
}

/// What every connection task needs.
struct Shared {
    router: Router,
    tls: Option<TlsAcceptor>,
    /// Cancelled when shutdown starts: stop accepting, finish in-flight requests.
    drain: CancellationToken,
    /// Cancelled when the grace period is over: drop connections now.
    kill: CancellationToken,
}

async fn accept_loop(
    listener: TcpListener,
    limit: Arc<Semaphore>,
    shared: Arc<Shared>,
    tracker: TaskTracker,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let permit = tokio::select! {
            biased;
            _ = shared.drain.cancelled() => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = shared.drain.cancelled() => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => {
                backoff = Duration::from_millis(10);
                x
            }
            Err(e) if is_connection_error(&e) => {
                debug!(error = %e, "connection failed before it was accepted");
                continue;
            }
            Err(e) => {
                // Out of file descriptors or memory: wait for some to be released rather
                // than spin.
                warn!(error = %e, retry_in = ?backoff, "accept failed");
                tokio::select! {
                    _ = shared.drain.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tracker.spawn(connection(tcp, peer, permit, shared.clone()));
    }
    drop(listener);
    debug!("listener closed");
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
) {
    let io = Counted {
        inner: tcp,
        _permit: permit,
    };
    match &shared.tls {
        None => serve_connection(TokioIo::new(io), peer, &shared).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                _ = shared.drain.cancelled() => return,
                r = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)) => r,
            };
            match handshake {
                Ok(Ok(stream)) => serve_connection(TokioIo::new(stream), peer, &shared).await,
                Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_connection<I>(io: TokioIo<I>, peer: SocketAddr, shared: &Shared)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = shared.router.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(60)));
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shared.drain.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                _ = shared.kill.cancelled() => return,
            }
        }
        _ = shared.kill.cancelled() => return,
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// A socket that holds its admission permit for as long as it lives.
struct Counted<T> {
    inner: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Builds the rustls server configuration for `tls`, or `None` when TLS is off: the PEM
/// certificate chain and private key, the minimum version, ALPN `h2` and `http/1.1`.
///
/// Errors name the key (`tls.cert_file`, `tls.key_file`) and the file. `config check`
/// calls this too, so a bad certificate is caught before deployment.
pub fn tls_server_config(tls: &TlsConfig) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    if !tls.enabled {
        return Ok(None);
    }
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        anyhow::bail!("invalid tls.enabled: TLS needs tls.cert_file and tls.key_file");
    };
    let certs = read_certs(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        anyhow::anyhow!(
            "invalid tls.key_file: no usable PEM private key in {}: {e}",
            key_file.display()
        )
    })?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .context("invalid tls.min_version")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid tls.cert_file/tls.key_file: {e} (certificate {}, key {})",
                cert_file.display(),
                key_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bad = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("invalid tls.cert_file: cannot read {}: {e}", path.display())
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        anyhow::bail!(
            "invalid tls.cert_file: no PEM certificate in {}",
            path.display()
        );
    }
    Ok(certs)
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;

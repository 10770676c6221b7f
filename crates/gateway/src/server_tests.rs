//! Tests of the server shell with a stand-alone router: real sockets on loopback port 0,
//! graceful drain, the grace deadline, the connection bound, TLS versions and ALPN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::config::{Config, TlsVersion};

const LIMIT: Duration = Duration::from_secs(10);

fn router() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow done"
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                "never"
            }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
}

fn config() -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".parse().unwrap();
    c.server.shutdown_grace = Duration::from_secs(5);
    c
}

/// Sends one HTTP/1.1 request on `stream` and reads the whole response (the request
/// asks the server to close).
async fn request<S>(stream: &mut S, path: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(LIMIT, stream.read_to_end(&mut out))
        .await
        .expect("response within the limit");
    String::from_utf8_lossy(&out).into_owned()
}

async fn get_text(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    request(&mut s, path).await
}

#[tokio::test]
async fn serves_plain_http_then_stops_and_releases_the_port() {
    let running = start_with_router(&config(), router()).await.unwrap();
    let addr = running.local_addr;
    assert_ne!(addr.port(), 0);
    let resp = get_text(addr, "/health").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("ok"), "{resp}");
    let peer = get_text(addr, "/peer").await;
    assert!(
        peer.ends_with("127.0.0.1"),
        "ConnectInfo reaches handlers: {peer}"
    );

    tokio::time::timeout(LIMIT, running.stop())
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn in_flight_request_finishes_during_drain() {
    let running = start_with_router(&config(), router()).await.unwrap();
    let addr = running.local_addr;
    let slow = tokio::spawn(async move { get_text(addr, "/slow").await });
    // Let the request reach the handler, then stop.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(running.connections(), 1);
    let started = Instant::now();
    tokio::time::timeout(LIMIT, running.stop())
        .await
        .unwrap()
        .unwrap();
    let resp = slow.await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("slow done"), "{resp}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "stop waited for the request"
    );
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn idle_keep_alive_connections_do_not_hold_up_shutdown() {
    let running = start_with_router(&config(), router()).await.unwrap();
    let mut s = TcpStream::connect(running.local_addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    running.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "idle connection closed at once"
    );
    let n = s.read(&mut buf).await.unwrap_or(0);
    assert_eq!(n, 0, "server closed the idle connection");
}

#[tokio::test]
async fn grace_period_bounds_shutdown() {
    let mut c = config();
    c.server.shutdown_grace = Duration::from_millis(300);
    let running = start_with_router(&c, router()).await.unwrap();
    let addr = running.local_addr;
    let hung = tokio::spawn(async move { get_text(addr, "/hang").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    running.stop().await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let resp = hung.await.unwrap();
    assert!(resp.is_empty(), "the hung request was cut: {resp:?}");
}

#[tokio::test]
async fn connections_are_bounded() {
    let mut c = config();
    c.server.max_connections = 1;
    let running = start_with_router(&c, router()).await.unwrap();
    let addr = running.local_addr;
    // A holds the only slot with an idle keep-alive connection.
    let mut a = TcpStream::connect(addr).await.unwrap();
    a.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = a.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // B gets through the kernel's backlog but is not served while A is open.
    let mut b = TcpStream::connect(addr).await.unwrap();
    b.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(400), b.read(&mut buf)).await;
    assert!(early.is_err(), "B was served while A held the only slot");
    drop(a);
    let mut out = Vec::new();
    tokio::time::timeout(LIMIT, b.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn bind_failure_names_the_key() {
    let first = start_with_router(&config(), router()).await.unwrap();
    let mut c = config();
    c.server.listen = first.local_addr;
    let e = start_with_router(&c, router()).await.unwrap_err();
    assert!(format!("{e:#}").contains("server.listen"), "{e:#}");
    first.stop().await.unwrap();
}

// ---- TLS ------------------------------------------------------------------------------

struct Certs {
    _dir: tempfile::TempDir,
    cert_pem: String,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn certs() -> Certs {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let cert_pem = ck.cert.pem();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    Certs {
        _dir: dir,
        cert_pem,
        cert,
        key,
    }
}

fn tls_config(certs: &Certs, min: TlsVersion) -> Config {
    let mut c = config();
    c.tls.enabled = true;
    c.tls.cert_file = Some(certs.cert.clone());
    c.tls.key_file = Some(certs.key.clone());
    c.tls.min_version = min;
    c
}

fn client(
    certs: &Certs,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(certs.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn tls_connect(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(LIMIT, connector.connect(name, tcp))
        .await
        .expect("handshake within the limit")
}

#[tokio::test]
async fn tls_serves_https_and_refuses_tls12_when_min_is_13() {
    let certs = certs();
    let running = start_with_router(&tls_config(&certs, TlsVersion::V1_3), router())
        .await
        .unwrap();
    let addr = running.local_addr;

    let tls13 = client(&certs, &[&rustls::version::TLS13], &[b"http/1.1"]);
    let mut s = tls_connect(addr, &tls13).await.unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let resp = request(&mut s, "/health").await;
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with("ok"),
        "{resp}"
    );

    let tls12 = client(&certs, &[&rustls::version::TLS12], &[b"http/1.1"]);
    assert!(
        tls_connect(addr, &tls12).await.is_err(),
        "a TLS 1.2-only client must be refused"
    );

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = get_text(addr, "/health").await;
    assert!(!plain.contains("200"), "{plain:?}");

    running.stop().await.unwrap();
}

#[tokio::test]
async fn tls12_is_accepted_when_configured_and_h2_is_offered() {
    let certs = certs();
    let running = start_with_router(&tls_config(&certs, TlsVersion::V1_2), router())
        .await
        .unwrap();
    let addr = running.local_addr;
    let tls12 = client(&certs, &[&rustls::version::TLS12], &[b"http/1.1"]);
    let mut s = tls_connect(addr, &tls12).await.unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let resp = request(&mut s, "/health").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    let h2 = client(&certs, &[&rustls::version::TLS13], &[b"h2", b"http/1.1"]);
    let s = tls_connect(addr, &h2).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    drop(s);
    running.stop().await.unwrap();
}

#[test]
fn tls_config_errors_name_the_key() {
    let certs = certs();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a pem").unwrap();

    let mut c = tls_config(&certs, TlsVersion::V1_3).tls;
    c.cert_file = Some(junk.clone());
    let e = tls_server_config(&c).unwrap_err().to_string();
    assert!(e.contains("tls.cert_file"), "{e}");

    let mut c = tls_config(&certs, TlsVersion::V1_3).tls;
    c.key_file = Some(junk);
    let e = tls_server_config(&c).unwrap_err().to_string();
    assert!(e.contains("tls.key_file"), "{e}");

    // A key that does not belong to the certificate.
    let other = certs_other_key(&dir);
    let mut c = tls_config(&certs, TlsVersion::V1_3).tls;
    c.key_file = Some(other);
    let e = tls_server_config(&c).unwrap_err().to_string();
    assert!(e.contains("tls.cert_file/tls.key_file"), "{e}");

    let mut off = tls_config(&certs, TlsVersion::V1_3).tls;
    off.enabled = false;
    assert!(tls_server_config(&off).unwrap().is_none());
}

fn certs_other_key(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let ck = rcgen::generate_simple_self_signed(vec!["other".to_string()]).unwrap();
    let p = dir.path().join("other-key.pem");
    std::fs::write(&p, ck.key_pair.serialize_pem()).unwrap();
    p
}

// ---- the real gateway ------------------------------------------------------------------

#[tokio::test]
async fn smoke_start_and_stop_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.storage.data_dir = dir.path().join("data");
    let running = start(c).await.unwrap();
    assert!(running.app().is_some());
    let addr = running.local_addr;
    let health = get_text(addr, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = get_text(addr, "/ready").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    tokio::time::timeout(LIMIT, running.stop())
        .await
        .unwrap()
        .unwrap();
    assert!(dir.path().join("data").join("admin.key").exists());
    // The store was closed: the same directory opens again at once.
    let mut c = config();
    c.storage.data_dir = dir.path().join("data");
    let again = start(c).await.expect("reopens after a clean stop");
    again.stop().await.unwrap();
}

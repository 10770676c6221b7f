//! Tests of `agentgate serve`, `config check` and `health-check` through the real binary:
//! configuration layering and refusals, a gateway on a loopback port probed by
//! `health-check` and stopped by SIGTERM, and HTTPS with a self-signed certificate
//! (TLS 1.2 refused when the minimum is 1.3).

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_agentgate");
/// Longest wait for anything a test waits for.
const LIMIT: Duration = Duration::from_secs(20);

/// A command with none of the caller's AGENTGATE_/AMTP_ variables, so tests see only
/// what they set.
fn agentgate(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("AGENTGATE_") || k.starts_with("AMTP_") {
            cmd.env_remove(&*k);
        }
    }
    cmd.args(args).stdin(Stdio::null());
    cmd
}

fn output(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the agentgate binary runs");
    let status = wait_for(&mut child, LIMIT).expect("command finished within the limit");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

// ---- configuration -----------------------------------------------------------------

#[test]
fn serve_with_invalid_domain_exits_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = output(
        agentgate(&["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data)
            .env("AGENTGATE_DOMAIN", "invalid_domain"),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = text(&out.stderr);
    for f in ["server.domain", "AGENTGATE_DOMAIN", "underscore"] {
        assert!(err.contains(f), "stderr {err:?} lacks {f:?}");
    }
    assert!(!data.exists(), "nothing was opened or created");

    // The AMTP guide's example, through its own variable.
    let out = output(
        agentgate(&["serve"])
            .arg("--data-dir")
            .arg(&data)
            .env("AMTP_DOMAIN", "invalid_domain"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("AMTP_DOMAIN"));

    // A flag names itself.
    let out = output(
        agentgate(&["serve", "--domain", "domain-.com"])
            .arg("--data-dir")
            .arg(&data),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--domain") && err.contains("hyphen"), "{err}");
}

#[test]
fn config_check_reflects_file_alias_and_env_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "agentgate.yaml",
        "server:\n  domain: file.test\n  listen: 127.0.0.1:9100\n\
         logging:\n  level: warn\n\
         message:\n  max_size: 4096\n",
    );
    let file_s = file.to_str().unwrap();
    let out = output(
        agentgate(&["--config", file_s, "config", "check", "--json"])
            .env("AMTP_DOMAIN", "amtp.test")
            .env("AMTP_LOG_LEVEL", "debug")
            .env("AMTP_SERVER_ADDRESS", ":9200")
            .env("AGENTGATE_LOGGING__LEVEL", "error")
            .env("AMTP_AUTH_REQUIRED", "true"),
    );
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        v["server"]["domain"], "amtp.test",
        "AMTP alias beats the file"
    );
    assert_eq!(
        v["server"]["listen"], "0.0.0.0:9200",
        "\":9200\" means all interfaces"
    );
    assert_eq!(
        v["logging"]["level"], "error",
        "AGENTGATE_ beats the AMTP alias"
    );
    assert_eq!(v["message"]["max_size"], 4096, "the file beats the default");
    assert_eq!(v["inbox"]["max_limit"], 1000, "defaults fill the rest");
    let err = text(&out.stderr);
    assert!(err.contains("warning: AMTP_AUTH_REQUIRED"), "{err}");
    assert!(err.contains("plain HTTP"), "{err}");

    // YAML by default; the config file also comes from AGENTGATE_CONFIG; flags win.
    let out = output(
        agentgate(&["config", "check", "--domain", "flag.test"])
            .env("AGENTGATE_CONFIG", file_s)
            .env("AGENTGATE_DOMAIN", "env.test"),
    );
    assert!(out.status.success(), "{out:?}");
    let yaml = text(&out.stdout);
    assert!(yaml.contains("domain: flag.test"), "{yaml}");
    assert!(yaml.contains("level: warn"), "{yaml}");
    assert!(yaml.contains(&format!("file {file_s}")), "{yaml}");
}

#[test]
fn json_flag_works_before_and_after_the_subcommand() {
    for args in [
        &["--json", "config", "check"][..],
        &["config", "--json", "check"][..],
        &["config", "check", "--json"][..],
    ] {
        let out = output(&mut agentgate(args));
        assert!(out.status.success(), "{args:?}: {out:?}");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", text(&out.stdout)));
        assert_eq!(v["server"]["domain"], "localhost");
    }
}

#[test]
fn config_check_refuses_bad_configuration_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.yaml", "server:\n  domian: x.test\n");
    let out = output(&mut agentgate(&[
        "config",
        "check",
        "--config",
        file.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("server.domian") && err.contains("did you mean server.domain"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = output(agentgate(&["config", "check"]).env("AGENTGATE_SERVER__LISTN", "x"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("AGENTGATE_SERVER__LISTN"));

    let out = output(agentgate(&["config", "check"]).env("AGENTGATE_INBOX__MAX_WAIT", "10m"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("inbox.max_wait") && err.contains("AGENTGATE_INBOX__MAX_WAIT"),
        "{err}"
    );

    // A certificate that is not PEM is caught by the check, not at startup.
    let cert = write(dir.path(), "cert.pem", "junk");
    let key = write(dir.path(), "key.pem", "junk");
    let out = output(
        agentgate(&["config", "check"])
            .env("AMTP_TLS_CERT_FILE", &cert)
            .env("AMTP_TLS_KEY_FILE", &key),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("tls.cert_file"), "{out:?}");
}

#[test]
fn config_check_masks_credentials() {
    let out = output(agentgate(&["config", "check", "--json"]).env(
        "AGENTGATE_STORAGE__NATS__SERVERS",
        "nats://app:s3cret@nats.internal:4222",
    ));
    assert!(out.status.success(), "{out:?}");
    let all = text(&out.stdout);
    assert!(!all.contains("s3cret"), "{all}");
    assert!(all.contains("nats://***@nats.internal:4222"), "{all}");
}

// ---- a running gateway -------------------------------------------------------------

/// `agentgate serve` as a child process, with its stderr log lines collected.
struct Served {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts `serve` with `extra` arguments and environment on a free loopback port,
    /// and waits for the startup line naming the address it bound.
    fn start(dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Served {
        let mut cmd = agentgate(&["serve"]);
        cmd.args(extra)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("AGENTGATE_LOGGING__FORMAT", "json")
            .env("AGENTGATE_LOGGING__LEVEL", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + LIMIT;
        let mut seen = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v["message"] == "agentgate listening"
                    {
                        let addr = v["local_addr"].as_str().unwrap().parse().unwrap();
                        assert!(v["domain"].is_string() && v["tls"].is_boolean(), "{line}");
                        break addr;
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("no startup line within {LIMIT:?}; stderr so far: {seen:#?}");
                }
            }
        };
        Served {
            child,
            addr,
            lines: rx,
            _dir: dir,
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Sends SIGTERM and returns the exit status and the remaining log lines.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        self.signal("-TERM");
        let status = wait_for(&mut self.child, LIMIT).expect("exits within the limit");
        let lines = self.lines.try_iter().collect();
        (status, lines)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_answers_health_check_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir,
        &["--listen", "127.0.0.1:0", "--domain", "gw.test"],
        &[],
    );
    let url = format!("http://{}", served.addr);

    let out = output(&mut agentgate(&["health-check", "--url", &url]));
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("200"));

    let out = output(&mut agentgate(&[
        "health-check",
        "--ready",
        "--json",
        "--url",
        &url,
    ]));
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["healthy"], true);
    assert_eq!(v["status"], 200);
    assert!(v["url"].as_str().unwrap().ends_with("/ready"));

    // The global --gateway-url is honoured too.
    let out = output(&mut agentgate(&["--gateway-url", &url, "health-check"]));
    assert!(out.status.success(), "{out:?}");

    let started = Instant::now();
    let (status, lines) = served.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "clean shutdown exits 0; log: {lines:#?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        lines.iter().any(|l| l.contains("stopped cleanly")),
        "{lines:#?}"
    );

    let out = output(&mut agentgate(&[
        "health-check",
        "--url",
        &url,
        "--timeout",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(1), "nothing listens any more");
}

#[test]
fn health_check_derives_the_url_from_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_port();
    let file = write(
        dir.path(),
        "gw.yaml",
        &format!("server:\n  listen: {addr}\n"),
    );
    let file_s = file.to_str().unwrap().to_string();
    let served = Served::start(dir, &["--config", &file_s], &[]);
    assert_eq!(served.addr, addr);
    let out = output(&mut agentgate(&["--config", &file_s, "health-check"]));
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains(&format!("http://{addr}/health")));
    // The same through the environment, as a container HEALTHCHECK would see it.
    let out = output(agentgate(&["health-check"]).env("AGENTGATE_LISTEN", addr.to_string()));
    assert!(out.status.success(), "{out:?}");
    let (status, _) = served.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigint_also_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir, &["--listen", "127.0.0.1:0"], &[]);
    served.signal("-INT");
    let status = wait_for(&mut served.child, LIMIT).expect("exits");
    assert_eq!(status.code(), Some(0));
}

// ---- TLS ----------------------------------------------------------------------------

struct Tls {
    cert: PathBuf,
    key: PathBuf,
    cert_pem: String,
}

fn self_signed(dir: &Path, name: &str) -> Tls {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    let cert_pem = ck.cert.pem();
    Tls {
        cert: write(dir, "cert.pem", &cert_pem),
        key: write(dir, "key.pem", &ck.key_pair.serialize_pem()),
        cert_pem,
    }
}

/// A TLS handshake with a client limited to `versions`, trusting `tls`'s certificate;
/// on success, one GET /health over it.
fn tls_get(
    addr: SocketAddr,
    tls: &Tls,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<String> {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut s = tokio::time::timeout(LIMIT, connector.connect(name, tcp))
            .await
            .expect("handshake within the limit")?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut out = Vec::new();
        tokio::time::timeout(LIMIT, s.read_to_end(&mut out))
            .await
            .expect("response within the limit")?;
        Ok(text(&out))
    })
}

#[test]
fn https_with_a_self_signed_certificate_and_minimum_version() {
    let dir = tempfile::tempdir().unwrap();
    let tls = self_signed(dir.path(), "localhost");
    let addr = free_port();
    let file = write(
        dir.path(),
        "tls.yaml",
        &format!(
            "server:\n  listen: {addr}\n  domain: localhost\n\
             tls:\n  cert_file: {}\n  key_file: {}\n  min_version: \"1.3\"\n",
            tls.cert.display(),
            tls.key.display()
        ),
    );
    let file_s = file.to_str().unwrap().to_string();
    let served = Served::start(dir, &["--config", &file_s], &[]);

    // health-check derived from the configuration trusts the gateway's own certificate.
    let out = output(&mut agentgate(&["--config", &file_s, "health-check"]));
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("https://localhost:"), "{out:?}");

    // An explicit URL verifies as usual: the self-signed certificate is not trusted…
    let url = format!("https://{addr}");
    let out = output(&mut agentgate(&["health-check", "--url", &url]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // …unless told not to verify.
    let out = output(&mut agentgate(&[
        "health-check",
        "--url",
        &url,
        "--insecure",
    ]));
    assert!(out.status.success(), "{out:?}");

    // TLS 1.3 works; a client limited to TLS 1.2 is refused.
    let resp = tls_get(addr, &tls, &[&rustls::version::TLS13]).expect("TLS 1.3 handshake");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let refused = tls_get(addr, &tls, &[&rustls::version::TLS12]);
    assert!(refused.is_err(), "TLS 1.2 must be refused: {refused:?}");

    let (status, _) = served.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn tls12_is_served_when_allowed_through_amtp_variables() {
    let dir = tempfile::tempdir().unwrap();
    let tls = self_signed(dir.path(), "localhost");
    let addr = free_port();
    let (cert, key) = (tls.cert.to_str().unwrap(), tls.key.to_str().unwrap());
    let served = Served::start(
        dir,
        &[],
        &[
            ("AMTP_SERVER_ADDRESS", &addr.to_string()),
            ("AMTP_TLS_ENABLED", "true"),
            ("AMTP_TLS_CERT_FILE", cert),
            ("AMTP_TLS_KEY_FILE", key),
            ("AMTP_TLS_MIN_VERSION", "1.2"),
        ],
    );
    let resp = tls_get(addr, &tls, &[&rustls::version::TLS12]).expect("TLS 1.2 handshake");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let (status, _) = served.terminate();
    assert_eq!(status.code(), Some(0));
}

// ---- shipped examples -------------------------------------------------------------

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn example_configurations_in_deploy_are_valid() {
    let out = output(&mut agentgate(&[
        "config",
        "check",
        "--json",
        "--config",
        repo_file("deploy/agentgate.yaml").to_str().unwrap(),
    ]));
    assert!(out.status.success(), "deploy/agentgate.yaml: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server"]["domain"], "company-a.com");

    // The container image's built-in file: the AMTP guide's variables still apply.
    let out = output(
        agentgate(&["config", "check", "--json"])
            .env("AGENTGATE_CONFIG", repo_file("deploy/container.yaml"))
            .env("AMTP_SERVER_ADDRESS", ":8443")
            .env("AMTP_DOMAIN", "company-a.com"),
    );
    assert!(out.status.success(), "deploy/container.yaml: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server"]["listen"], "0.0.0.0:8443");
    assert_eq!(v["storage"]["data_dir"], "/var/lib/agentgate");

    // The ConfigMap's agentgate.yaml, with the admin key its Secret would provide.
    let manifest = std::fs::read_to_string(repo_file("deploy/kubernetes.yaml")).unwrap();
    let mut lines = manifest
        .lines()
        .skip_while(|l| l.trim() != "agentgate.yaml: |");
    assert!(lines.next().is_some(), "the ConfigMap holds agentgate.yaml");
    let body: String = lines
        .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
        .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "configmap.yaml", &body);
    let key = write(dir.path(), "admin.key", "example-key\n");
    let out = output(
        agentgate(&[
            "config",
            "check",
            "--json",
            "--config",
            file.to_str().unwrap(),
        ])
        .env("AGENTGATE_AUTH__ADMIN_KEY_FILE", &key),
    );
    assert!(
        out.status.success(),
        "kubernetes.yaml ConfigMap: {out:?}\n{body}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server"]["listen"], "0.0.0.0:8080");
    assert_eq!(v["storage"]["data_dir"], "/var/lib/agentgate");
}

// ---- graceful shutdown with a request in flight --------------------------------------

const ADMIN_KEY: &str = "cli-config-admin-key-0123456789abcdef";

/// Starts a gateway with a known admin key and opens an admin request whose body is
/// still arriving: a request in flight for as long as the test wants.
fn gateway_with_request_in_flight(body: &str) -> (Served, std::net::TcpStream) {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "admin.key", &format!("{ADMIN_KEY}\n"));
    let key_s = key.to_str().unwrap().to_string();
    let served = Served::start(
        dir,
        &["--listen", "127.0.0.1:0"],
        &[
            ("AGENTGATE_AUTH__ADMIN_KEY_FILE", &key_s),
            ("AGENTGATE_SERVER__SHUTDOWN_GRACE", "20s"),
        ],
    );
    let mut s = std::net::TcpStream::connect(served.addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let head = format!(
        "POST /v1/admin/agents HTTP/1.1\r\nHost: localhost\r\nX-Admin-Key: {ADMIN_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..5]).unwrap();
    // Let the request reach its handler.
    std::thread::sleep(Duration::from_millis(300));
    (served, s)
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    use std::io::Write as _;
    let body = r#"{"name":"late"}"#;
    let (mut served, mut s) = gateway_with_request_in_flight(body);
    served.signal("-TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "the gateway waits for the request in flight"
    );
    s.write_all(&body.as_bytes()[5..]).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    assert!(resp.contains("late@localhost"), "{resp}");
    let status = wait_for(&mut served.child, LIMIT).expect("exits after the request");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn second_signal_exits_at_once() {
    let (mut served, _s) = gateway_with_request_in_flight(r#"{"name":"never"}"#);
    served.signal("-TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(served.child.try_wait().unwrap().is_none(), "still draining");
    let started = Instant::now();
    served.signal("-INT");
    let status = wait_for(&mut served.child, LIMIT).expect("exits");
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5));
}

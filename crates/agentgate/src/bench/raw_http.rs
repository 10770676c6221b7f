//! The `direct` transport of `bench send`: one kept-alive HTTP/1.1 connection per
//! client that writes a request serialised in advance and reads the response with
//! `httparse`.
//!
//! The generator shares the cores with the gateway it measures, so every microsecond
//! it spends is taken from the gateway. A general client (hyper's connection task,
//! header maps, body channels) costs several microseconds per request in user space;
//! here a request is one `write` of bytes prepared once (only the message id in the
//! body changes), and a response is parsed in place. Only what the gateway sends is
//! understood: `Content-Length` bodies. Anything else (chunked bodies, a malformed head)
//! is reported as an error, never guessed at.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The most response headers read.
const MAX_HEADERS: usize = 32;
/// The largest response accepted (head and body).
const MAX_RESPONSE: usize = 1 << 20;

/// A request head: request line and headers, ending with the blank line.
pub(crate) fn request_head(path: &str, headers: &[(&str, &str)], content_length: usize) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {content_length}\r\n\r\n"));
    head.into_bytes()
}

/// Why an exchange failed: a kind for the report (`connect`, `io`, `protocol`) and a
/// description.
pub(crate) type Failure = (&'static str, String);

/// A kept-alive connection.
pub(crate) struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// The request being written: head then body.
    out: Vec<u8>,
    /// The server asked to close after the last response.
    closing: bool,
}

impl Connection {
    /// Connects to the first of `addrs` that answers within `timeout`.
    pub(crate) async fn open(
        addrs: &[SocketAddr],
        timeout: std::time::Duration,
    ) -> Result<Connection, Failure> {
        let mut last = String::from("no address");
        for a in addrs {
            match tokio::time::timeout(timeout, TcpStream::connect(a)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Connection {
                        stream,
                        buf: Vec::with_capacity(4096),
                        out: Vec::with_capacity(4096),
                        closing: false,
                    });
                }
                Ok(Err(e)) => last = format!("{a}: {e}"),
                Err(_) => last = format!("{a}: connect timed out"),
            }
        }
        Err(("connect", last))
    }

    /// Whether the connection can carry another request (not after an I/O error or a
    /// `Connection: close`; after a protocol error the caller drops it too).
    pub(crate) fn reusable(&self) -> bool {
        !self.closing
    }

    /// Sends `head` and `body`, returns the response's status and body.
    pub(crate) async fn exchange(
        &mut self,
        head: &[u8],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Failure> {
        self.out.clear();
        self.out.extend_from_slice(head);
        self.out.extend_from_slice(body);
        if let Err(e) = self.stream.write_all(&self.out).await {
            self.closing = true;
            return Err(("io", format!("sending the request: {e}")));
        }
        self.buf.clear();
        loop {
            if let Some(response) = self.parse()? {
                return Ok(response);
            }
            if self.buf.len() >= MAX_RESPONSE {
                return Err(("protocol", format!("response over {MAX_RESPONSE} bytes")));
            }
            self.buf.reserve(4096);
            let read = self.stream.read_buf(&mut self.buf).await;
            let n = read.map_err(|e| {
                self.closing = true;
                ("io", format!("reading the response: {e}"))
            })?;
            if n == 0 {
                self.closing = true;
                return Err(("io", "the gateway closed the connection".into()));
            }
        }
    }

    /// The response in `buf`, if it is complete.
    fn parse(&mut self) -> Result<Option<(u16, Vec<u8>)>, Failure> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(("protocol", format!("malformed response head: {e}"))),
        };
        let status = response.code.unwrap_or(0);
        let mut length = None;
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(h.value).unwrap_or("");
                length = Some(
                    text.trim()
                        .parse::<usize>()
                        .map_err(|_| ("protocol", format!("bad Content-Length {text:?}")))?,
                );
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                return Err((
                    "protocol",
                    "a response with Transfer-Encoding (only Content-Length is read)".into(),
                ));
            } else if h.name.eq_ignore_ascii_case("connection")
                && h.value.eq_ignore_ascii_case(b"close")
            {
                self.closing = true;
            }
        }
        let length = match length {
            Some(n) => n,
            // 1xx, 204 and 304 have no body; anything else must say how long it is.
            None if status < 200 || status == 204 || status == 304 => 0,
            None => {
                return Err(("protocol", "a response without Content-Length".into()));
            }
        };
        if self.buf.len() < head_len + length {
            return Ok(None);
        }
        Ok(Some((
            status,
            self.buf[head_len..head_len + length].to_vec(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request with the next of `replies`, as raw bytes
    /// written in two parts (so the client must read more than once).
    async fn server(replies: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 65536];
            for reply in replies {
                let mut got = Vec::new();
                // Read one request: head plus the Content-Length of body.
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let mut headers = [httparse::EMPTY_HEADER; 16];
                    let mut req = httparse::Request::new(&mut headers);
                    if let Ok(httparse::Status::Complete(h)) = req.parse(&got) {
                        let len: usize = req
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                            .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                            .unwrap();
                        if got.len() >= h + len {
                            break;
                        }
                    }
                }
                let (a, b) = reply.split_at(reply.len() / 2);
                s.write_all(a).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                s.write_all(b).await.unwrap();
            }
        });
        addr
    }

    async fn connect(addr: SocketAddr) -> Connection {
        Connection::open(&[addr], std::time::Duration::from_secs(5))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reads_responses_in_parts_and_reuses_the_connection() {
        let addr = server(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\nconnection: close\r\n\r\n{}",
        ])
        .await;
        let head = request_head("/v1/messages", &[("Host", "x")], 3);
        assert!(head.ends_with(b"Content-Length: 3\r\n\r\n"));
        let mut c = connect(addr).await;
        assert_eq!(
            c.exchange(&head, b"abc").await.unwrap(),
            (200, b"hello".to_vec())
        );
        assert!(c.reusable());
        assert_eq!(
            c.exchange(&head, b"abc").await.unwrap(),
            (413, b"{}".to_vec())
        );
        assert!(!c.reusable(), "the server asked to close");
    }

    #[tokio::test]
    async fn unsupported_framing_and_closed_connections_are_errors() {
        let addr = server(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        ])
        .await;
        let head = request_head("/", &[], 0);
        let mut c = connect(addr).await;
        let (kind, why) = c.exchange(&head, b"").await.unwrap_err();
        assert_eq!(kind, "protocol");
        assert!(why.contains("Transfer-Encoding"), "{why}");
        // The server has nothing more to say and closes: the next exchange fails.
        let (kind, _) = c.exchange(&head, b"").await.unwrap_err();
        assert_eq!(kind, "io");
        assert!(!c.reusable());

        let addr = server(vec![b"HTTP/1.1 200 OK\r\n\r\n"]).await;
        let mut c = connect(addr).await;
        let (kind, why) = c.exchange(&head, b"").await.unwrap_err();
        assert_eq!(kind, "protocol");
        assert!(why.contains("Content-Length"), "{why}");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let Err((kind, _)) = Connection::open(&[addr], std::time::Duration::from_secs(5)).await
        else {
            panic!("connected to nothing");
        };
        assert_eq!(kind, "connect");
    }
}

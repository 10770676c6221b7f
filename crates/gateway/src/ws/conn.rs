//! One WebSocket connection, whatever its dialect: a writer task that owns the sending
//! half, and a reader that turns the receiving half into text frames or a reason to
//! close.
//!
//! Frames to send go through a bounded queue ([`Conn::out`]), so nothing that routes a
//! frame to this connection ever waits on its peer; the writer feeds up to
//! [`WRITE_BATCH`] queued frames before each flush, so a busy connection costs one
//! write per batch, not per frame. The writer also pings every `ping_interval`; the
//! reader closes a connection from which nothing (pongs included) has arrived for
//! `ping_interval + ping_timeout`.
//!
//! Closing ([`Conn::close`]) sends what is already queued, then the close frame, within
//! [`CLOSE_GRACE`]; a peer that does not read by then is cut off.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::metrics::{DialectLabel, Metrics};
use crate::presence::{CloseReason, TextFrame};

/// Frames fed to the socket before one flush.
const WRITE_BATCH: usize = 64;
/// How long closing may take: queued frames, the close frame, the peer's answer.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Every reason the gateway closes a session for (`docs/protocols/websocket.md`).
impl CloseReason {
    /// A newer session of the same identity took over.
    pub const SUPERSEDED: CloseReason = CloseReason {
        code: 4000,
        reason: "replaced by a newer session",
    };
    /// An authentication (or registration) attempt failed.
    pub const AUTH_FAILED: CloseReason = CloseReason {
        code: 4001,
        reason: "authentication failed",
    };
    /// No authentication within `websocket.auth_timeout`.
    pub const AUTH_TIMEOUT: CloseReason = CloseReason {
        code: 4002,
        reason: "not authenticated in time",
    };
    /// The connection's outbound queue is full.
    pub const SLOW_CONSUMER: CloseReason = CloseReason {
        code: 4003,
        reason: "slow consumer: outbound queue full",
    };
    /// Far over `websocket.max_messages_per_second`.
    pub const RATE_LIMITED: CloseReason = CloseReason {
        code: 4029,
        reason: "too many messages",
    };
    /// The gateway is shutting down.
    pub const GOING_AWAY: CloseReason = CloseReason {
        code: 1001,
        reason: "the gateway is shutting down",
    };
    /// An ioap first frame that is not a valid REGISTER.
    pub const POLICY: CloseReason = CloseReason {
        code: 1008,
        reason: "the first frame must be a valid REGISTER",
    };
    /// The agent asked to unregister.
    pub const UNREGISTERED: CloseReason = CloseReason {
        code: 1000,
        reason: "unregistered",
    };
    /// A binary frame where only text frames are defined.
    pub const BINARY: CloseReason = CloseReason {
        code: 1003,
        reason: "only text frames are accepted",
    };
    /// A frame larger than `websocket.max_frame_size`.
    pub const TOO_BIG: CloseReason = CloseReason {
        code: 1009,
        reason: "frame too large",
    };
    /// Text that is not UTF-8.
    pub const NOT_UTF8: CloseReason = CloseReason {
        code: 1007,
        reason: "text frame is not UTF-8",
    };
    /// A WebSocket protocol violation.
    pub const PROTOCOL: CloseReason = CloseReason {
        code: 1002,
        reason: "WebSocket protocol error",
    };
    /// No frame (not even a pong) within the ping timeout.
    pub const PING_TIMEOUT: CloseReason = CloseReason {
        code: 1011,
        reason: "ping timeout",
    };
    /// Too many sessions, in all or from this address.
    pub const TRY_AGAIN_LATER: CloseReason = CloseReason {
        code: 1013,
        reason: "too many connections; try again later",
    };
}

/// What the reader got.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A text frame.
    Text(Utf8Bytes),
    /// The peer closed, or the connection broke: nothing more to send.
    Gone,
    /// The connection must be closed with this reason.
    Fault(CloseReason),
}

/// Timing of liveness checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Liveness {
    /// Ping period.
    pub ping_interval: Duration,
    /// How long past a ping period the peer may stay silent.
    pub ping_timeout: Duration,
}

/// Where a connection counts its frames and closes.
pub(crate) struct Counting {
    /// The gateway's metrics.
    pub metrics: Arc<Metrics>,
    /// The session's dialect.
    pub dialect: DialectLabel,
}

/// An open connection.
pub(crate) struct Conn {
    stream: SplitStream<WebSocket>,
    /// Frames to send (bounded).
    pub out: mpsc::Sender<TextFrame>,
    kill: Option<oneshot::Sender<CloseFrame>>,
    writer: JoinHandle<()>,
    last_seen: Instant,
    check: Interval,
    silence: Duration,
    counting: Counting,
}

impl Conn {
    /// Starts the writer of `socket`, with a queue of `queue` frames.
    pub(crate) fn open(
        socket: WebSocket,
        queue: usize,
        live: Liveness,
        counting: Counting,
    ) -> Conn {
        let (sink, stream) = socket.split();
        let (out, frames) = mpsc::channel(queue);
        let (kill, killed) = oneshot::channel();
        let writer = tokio::spawn(write_loop(sink, frames, killed, live.ping_interval));
        let mut check = tokio::time::interval(live.ping_interval);
        check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Conn {
            stream,
            out,
            kill: Some(kill),
            writer,
            last_seen: Instant::now(),
            check,
            silence: live.ping_interval + live.ping_timeout,
            counting,
        }
    }

    /// The next text frame, or why there is none. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Inbound {
        loop {
            let received = tokio::select! {
                m = self.stream.next() => m,
                _ = self.check.tick() => {
                    if self.last_seen.elapsed() > self.silence {
                        return Inbound::Fault(CloseReason::PING_TIMEOUT);
                    }
                    continue;
                }
            };
            self.last_seen = Instant::now();
            match received {
                Some(Ok(Message::Text(t))) => {
                    self.counting.metrics.websocket_frame(self.counting.dialect);
                    return Inbound::Text(t);
                }
                Some(Ok(Message::Binary(_))) => return Inbound::Fault(CloseReason::BINARY),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => return Inbound::Gone,
                Some(Err(e)) => return fault_of(e),
            }
        }
    }

    /// Sends what is queued, then a close frame with `reason`, and waits (bounded) for
    /// the writer to finish.
    pub(crate) async fn close(mut self, reason: CloseReason) {
        self.counting.metrics.websocket_close(reason.code);
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(CloseFrame {
                code: reason.code,
                reason: Utf8Bytes::from_static(reason.reason),
            });
        }
        let _ =
            tokio::time::timeout(CLOSE_GRACE + Duration::from_millis(500), &mut self.writer).await;
        // Read the peer's close answer, briefly; the socket is dropped after.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            while let Some(Ok(m)) = self.stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    /// Ends a connection the peer closed: the writer stops.
    pub(crate) async fn finish(mut self) {
        drop(self.kill.take());
        self.writer.abort();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

fn fault_of(e: axum::Error) -> Inbound {
    use tungstenite::Error as E;
    match e.into_inner().downcast::<E>().map(|e| *e) {
        Ok(E::Capacity(_)) => Inbound::Fault(CloseReason::TOO_BIG),
        Ok(E::Utf8(_)) => Inbound::Fault(CloseReason::NOT_UTF8),
        Ok(E::Protocol(_)) => Inbound::Fault(CloseReason::PROTOCOL),
        _ => Inbound::Gone,
    }
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut frames: mpsc::Receiver<TextFrame>,
    mut killed: oneshot::Receiver<CloseFrame>,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let step = tokio::select! {
            biased;
            close = &mut killed => {
                if let Ok(close) = close {
                    let _ = tokio::time::timeout(CLOSE_GRACE, closing(&mut sink, &mut frames, close)).await;
                }
                return;
            }
            frame = frames.recv() => match frame {
                Some(f) => batch(&mut sink, &mut frames, f).await,
                None => return,
            },
            _ = ping.tick() => send_ping(&mut sink).await,
        };
        if step.is_err() {
            return;
        }
        // A flush that waits on a peer that does not read must not hold a close back.
        let flushed = tokio::select! {
            biased;
            close = &mut killed => {
                if let Ok(close) = close {
                    let _ = tokio::time::timeout(CLOSE_GRACE, closing(&mut sink, &mut frames, close)).await;
                }
                return;
            }
            r = sink.flush() => r,
        };
        if flushed.is_err() {
            return;
        }
    }
}

/// Feeds `first` and what else is queued, up to a batch.
async fn batch(
    sink: &mut SplitSink<WebSocket, Message>,
    frames: &mut mpsc::Receiver<TextFrame>,
    first: TextFrame,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..WRITE_BATCH {
        match frames.try_recv() {
            Ok(f) => sink.feed(Message::Text(f)).await?,
            Err(_) => break,
        }
    }
    Ok(())
}

async fn send_ping(sink: &mut SplitSink<WebSocket, Message>) -> Result<(), axum::Error> {
    sink.feed(Message::Ping(bytes::Bytes::new())).await
}

/// Sends the frames already queued, then the close frame.
async fn closing(
    sink: &mut SplitSink<WebSocket, Message>,
    frames: &mut mpsc::Receiver<TextFrame>,
    close: CloseFrame,
) {
    while let Ok(f) = frames.try_recv() {
        if sink.feed(Message::Text(f)).await.is_err() {
            return;
        }
    }
    let _ = sink.send(Message::Close(Some(close))).await;
}

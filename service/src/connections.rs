//! The gRPC listener's connections, bounded so that no client can starve the
//! others of sockets or file descriptors:
//!
//! - at most `max_connections` at once: beyond that the accept loop waits (new
//!   clients queue in the kernel's backlog) and says so in the log;
//! - at most `max_connections_per_peer` from one IP address: a peer's extra
//!   connections are closed as soon as they are accepted;
//! - a connection on which nothing was read or written for `idle_timeout` is
//!   closed, whether the peer went quiet or stopped reading what it asked for;
//! - `TCP_NODELAY` on every socket: gRPC writes whole messages, and Nagle's
//!   algorithm would hold a small response back until the peer's delayed ACK;
//! - accept errors never end serving; running out of file descriptors (EMFILE,
//!   ENFILE) pauses accepting briefly and is logged, instead of spinning.

use futures_util::Stream;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_peer: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
}

/// How long accepting pauses when the process is out of file descriptors.
const FD_PAUSE: Duration = Duration::from_millis(250);

/// The same warning at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Open connections per peer address.
type Peers = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One peer's share of its connection count, given back when the connection closes.
struct PeerSlot {
    peers: Peers,
    ip: IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = peers.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                peers.remove(&self.ip);
            }
        }
    }
}

/// An accepted connection: the socket, its idle deadline, and its places in the
/// global and per-peer counts (freed when it is dropped).
pub struct Connection {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
    _peer: PeerSlot,
}

impl Connection {
    /// Traffic: the idle deadline moves on.
    fn touched(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// Whether the connection has been idle past its deadline (registering the
    /// waker so that a quiet connection is woken when it is).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }

    fn idle_error(&self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, format!("no traffic for {} s: connection closed", self.idle.as_secs()))
    }

    /// `result` of an I/O call: traffic moves the deadline, a wait past it fails.
    fn after<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(r) => {
                self.touched();
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.after(cx, result)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.after(cx, result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.after(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

/// Logs a warning at most every [`WARN_EVERY`].
struct Throttled(Option<std::time::Instant>);

impl Throttled {
    fn due(&mut self) -> bool {
        let now = std::time::Instant::now();
        let due = self.0.is_none_or(|last| now.duration_since(last) >= WARN_EVERY);
        if due {
            self.0 = Some(now);
        }
        due
    }
}

/// The accept loop's state.
struct Acceptor {
    listener: TcpListener,
    limits: Limits,
    slots: Arc<Semaphore>,
    peers: Peers,
    full: Throttled,
    peer_full: Throttled,
    out_of_fds: Throttled,
}

impl Acceptor {
    /// The next connection within the limits; never fails.
    async fn next(&mut self) -> Connection {
        loop {
            let slot = match self.slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    if self.full.due() {
                        tracing::warn!(
                            max_connections = self.limits.max_connections,
                            "connection limit reached: new clients wait until a connection closes"
                        );
                    }
                    self.slots.clone().acquire_owned().await.expect("the semaphore is never closed")
                }
            };
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    self.accept_failed(&e).await;
                    continue;
                }
            };
            let Some(peer_slot) = self.admit(peer) else {
                if self.peer_full.due() {
                    tracing::warn!(
                        %peer,
                        max_connections_per_peer = self.limits.max_connections_per_peer,
                        "a peer opened more connections than allowed: its extra connections are closed"
                    );
                }
                continue;
            };
            // Without it a small response waits for the peer's delayed ACK (~40 ms).
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
            }
            let idle = self.limits.idle_timeout;
            return Connection {
                stream,
                idle,
                deadline: Box::pin(tokio::time::sleep(idle)),
                _slot: slot,
                _peer: peer_slot,
            };
        }
    }

    /// A place for `peer` within its limit, or none.
    fn admit(&self, peer: SocketAddr) -> Option<PeerSlot> {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let n = peers.entry(peer.ip()).or_insert(0);
        if *n >= self.limits.max_connections_per_peer {
            return None;
        }
        *n += 1;
        Some(PeerSlot { peers: self.peers.clone(), ip: peer.ip() })
    }

    async fn accept_failed(&mut self, e: &io::Error) {
        // EMFILE and ENFILE: no descriptor for the new socket; it stays in the
        // backlog and every accept fails at once until one is freed.
        if matches!(e.raw_os_error(), Some(24 | 23)) {
            if self.out_of_fds.due() {
                tracing::warn!(
                    error = %e,
                    "out of file descriptors: accepting paused briefly (raise `ulimit -n`, or lower max_connections)"
                );
            }
            tokio::time::sleep(FD_PAUSE).await;
        } else {
            // A connection reset before it was accepted, and the like: only that one is lost.
            tracing::debug!(error = %e, "accept failed");
        }
    }
}

/// The connections `listener` accepts within `limits`, as a stream for tonic.
pub fn incoming(listener: TcpListener, limits: Limits) -> impl Stream<Item = Result<Connection, io::Error>> {
    let acceptor = Acceptor {
        slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        listener,
        limits,
        peers: Peers::default(),
        full: Throttled(None),
        peer_full: Throttled(None),
        out_of_fds: Throttled(None),
    };
    futures_util::stream::unfold(acceptor, |mut acceptor| async move {
        let connection = acceptor.next().await;
        Some((Ok(connection), acceptor))
    })
}

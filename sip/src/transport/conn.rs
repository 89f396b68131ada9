//! One TCP connection: framing, keep-alive and writes, owned by a single task.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::framer::{StreamFramer, StreamItem, PING, PONG};
use super::keepalive::{KeepAlive, KeepAliveAction};
use super::shell::{Incoming, Shared};
use super::via_fixup;
use crate::msg::Message;
use crate::transaction::{Peer, Transport};

/// Runs a connection until it closes, fails to frame, misses a pong, or the transport is
/// dropped; then forgets it in the connection table.
pub(crate) async fn run(
    mut stream: TcpStream,
    remote: SocketAddr,
    mut out: mpsc::UnboundedReceiver<Vec<u8>>,
    me: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
) {
    let mut framer = StreamFramer::new();
    let mut ka = KeepAlive::new(shared.keepalive, std::time::Instant::now());
    let mut buf = vec![0u8; 16 * 1024];
    let peer = Peer {
        addr: remote,
        transport: Transport::Tcp,
    };
    'conn: loop {
        let deadline = ka
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + std::time::Duration::from_secs(3600));
        tokio::select! {
            read = stream.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => n,
                };
                ka.on_activity(std::time::Instant::now());
                framer.push(buf.get(..n).unwrap_or_default());
                loop {
                    match framer.next_item() {
                        Ok(None) => break,
                        Ok(Some(StreamItem::Ping)) => {
                            shared.stats.pings_answered.fetch_add(1, Ordering::Relaxed);
                            if stream.write_all(PONG).await.is_err() {
                                break 'conn;
                            }
                        }
                        Ok(Some(StreamItem::Pong)) => {
                            shared.stats.pongs_received.fetch_add(1, Ordering::Relaxed);
                            ka.on_pong(std::time::Instant::now());
                        }
                        Ok(Some(StreamItem::Message { mut message, raw })) => {
                            if let Message::Request(r) = &mut message {
                                via_fixup(r, remote);
                            }
                            if shared.incoming.send(Incoming { message, peer, raw }).is_err() {
                                break 'conn;
                            }
                        }
                        Err(_) => {
                            // §18.3: after a framing error the stream cannot be resynchronised.
                            shared.stats.malformed_streams.fetch_add(1, Ordering::Relaxed);
                            break 'conn;
                        }
                    }
                }
            }
            bytes = out.recv() => {
                let Some(bytes) = bytes else { break 'conn };
                if stream.write_all(&bytes).await.is_err() {
                    break 'conn;
                }
                ka.on_activity(std::time::Instant::now());
            }
            () = tokio::time::sleep_until(deadline) => {
                match ka.handle_timeout(std::time::Instant::now()) {
                    Some(KeepAliveAction::SendPing) => {
                        shared.stats.pings_sent.fetch_add(1, Ordering::Relaxed);
                        framer.ping_sent();
                        if stream.write_all(PING).await.is_err() {
                            break 'conn;
                        }
                    }
                    Some(KeepAliveAction::Close) => break 'conn,
                    None => {}
                }
            }
            _ = shutdown.changed() => break 'conn,
        }
    }
    shared.forget(remote, &me);
    let _ = shared.closed.send(peer);
}

//! The UDPTL stream shell (ITU-T T.38 §9.1): a [`MediaSocket`] driving the UDPTL sender and
//! receiver cores.
//!
//! The call task queues the IFPs its T.38 terminal or gateway produces, flushes them, waits on
//! [`UdptlStream::readable`] or the receiver's [`UdptlStream::poll_timeout`], and drains
//! arrivals into ordered IFPs. [`UdptlStream::start`] sends a T.38 `no-signal` indicator
//! (T.38 §7.1) at once, so that a far end or media proxy that latches learns our address.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::latch::StreamFilter;
use super::media_socket::MediaSocket;
use crate::udptl::{ReceiverStats, SenderStats, UdptlReceiver, UdptlSender};
use crate::Error;

/// The IFP of a T.38 `no-signal` indicator: a t30-indicator, value 0, in one octet (as SpanDSP
/// encodes it for every T.38 version).
pub const NO_SIGNAL_IFP: [u8; 1] = [0x00];

/// One T.38 stream on its own socket.
#[derive(Debug)]
pub struct UdptlStream {
    socket: MediaSocket,
    sender: UdptlSender,
    receiver: UdptlReceiver,
    started: bool,
}

impl UdptlStream {
    /// A stream over `socket`; its latch filter is set to UDPTL.
    pub fn new(mut socket: MediaSocket, sender: UdptlSender, receiver: UdptlReceiver) -> Self {
        socket.set_filter(StreamFilter::udptl());
        UdptlStream {
            socket,
            sender,
            receiver,
            started: false,
        }
    }

    /// Media starts: sends a `no-signal` indicator (once) so that the far end can latch on us.
    pub fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            // A one-octet IFP is never refused by the sender.
            let _ = self.sender.send_ifp(&NO_SIGNAL_IFP, 1);
            self.flush()?;
        }
        Ok(())
    }

    /// Queues an IFP `repeats` times (as SpanDSP asks; see [`UdptlSender::send_ifp`]); returns
    /// the sequence number of its first datagram.
    pub fn queue_ifp(&mut self, ifp: &[u8], repeats: u8) -> Result<u16, Error> {
        self.started = true;
        self.sender.send_ifp(ifp, repeats)
    }

    /// Sends every queued datagram; returns how many were sent.
    pub fn flush(&mut self) -> io::Result<usize> {
        let mut sent = 0;
        while let Some(datagram) = self.sender.poll_transmit() {
            sent += usize::from(self.socket.send(&datagram)?);
        }
        Ok(sent)
    }

    /// Waits until datagrams may be ready for [`UdptlStream::drain`].
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Hands every queued datagram to the receiver as arriving at `now`; returns how many.
    pub fn drain(&mut self, now: Instant) -> io::Result<usize> {
        let mut n = 0;
        while let Some(datagram) = self.socket.try_recv()? {
            n += 1;
            // Malformed datagrams are counted by the receiver and dropped.
            let _ = self.receiver.handle_datagram(now, datagram.data);
        }
        Ok(n)
    }

    /// Gives up on gaps waited for long enough (see [`UdptlReceiver::handle_timeout`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.receiver.handle_timeout(now);
    }

    /// When [`UdptlStream::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.receiver.poll_timeout()
    }

    /// The next received IFP in sequence order, with its sequence number; lent until the next
    /// call (see [`UdptlReceiver::poll_ifp`]).
    pub fn poll_ifp(&mut self) -> Option<(u16, &[u8])> {
        self.receiver.poll_ifp()
    }

    /// Takes a re-INVITE's SDP address and `T38FaxMaxDatagram`; latching is re-armed.
    pub fn relatch(&mut self, remote: SocketAddr, max_datagram: usize) {
        self.sender.set_max_datagram(max_datagram);
        self.socket.relatch(remote);
    }

    /// The socket, for its address, latch state and counters.
    pub fn socket(&self) -> &MediaSocket {
        &self.socket
    }

    /// The socket, mutably: for a readiness poll to watch it or mark it ready.
    pub fn socket_mut(&mut self) -> &mut MediaSocket {
        &mut self.socket
    }

    /// Gives the socket back, for a switch of the same port to audio (or back to T.38).
    pub fn into_socket(self) -> MediaSocket {
        self.socket
    }

    /// What the sender has done.
    pub fn sender_stats(&self) -> SenderStats {
        self.sender.stats()
    }

    /// What the receiver has seen.
    pub fn receiver_stats(&self) -> ReceiverStats {
        self.receiver.stats()
    }
}

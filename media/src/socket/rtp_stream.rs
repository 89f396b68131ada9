//! The G.711 RTP stream shell (RFC 3550, RFC 3551 §4.5): a [`MediaSocket`] driving the RTP
//! sender, receiver, telephone-event receiver (RFC 4733) and playout buffer cores.
//!
//! The call task pushes 20 ms of audio and pops 20 ms frames on its media clock, waits on
//! [`RtpStream::readable`] between ticks, and calls [`RtpStream::drain`] with the arrival
//! time when it wakes. [`RtpStream::start`] sends one packet of silence at once, so that a far
//! end or media proxy that latches (see [`super::Latch`]) learns our address before the fax
//! machine says anything.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::latch::StreamFilter;
use super::media_socket::MediaSocket;
use crate::playout::{Frame, PlayoutBuffer, PlayoutStats, FRAME_SAMPLES};
use crate::rtp::{PayloadMap, Received, ReceiverStats, RtpReceiver, RtpSender, SenderStats};
use crate::rtp_event::{EventReceiver, ToneEvent};

/// One G.711 audio stream on its own socket.
#[derive(Debug)]
pub struct RtpStream {
    socket: MediaSocket,
    sender: RtpSender,
    receiver: RtpReceiver,
    events: EventReceiver,
    playout: PlayoutBuffer,
    silence: Vec<i16>,
    started: bool,
}

impl RtpStream {
    /// A stream over `socket`; its latch filter is set from the receiver's payload types.
    pub fn new(
        mut socket: MediaSocket,
        sender: RtpSender,
        receiver: RtpReceiver,
        playout: PlayoutBuffer,
    ) -> Self {
        socket.set_filter(StreamFilter::rtp(receiver.payload_map()));
        let silence = vec![0; sender.samples_per_packet()];
        RtpStream {
            socket,
            sender,
            receiver,
            events: EventReceiver::new(),
            playout,
            silence,
            started: false,
        }
    }

    /// Media starts: sends one packet of silence (once) so that the far end can latch on us.
    pub fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            transmit(&mut self.sender, &mut self.socket, &self.silence)?;
        }
        Ok(())
    }

    /// Packetises outgoing audio and sends every full packet; returns how many were sent.
    pub fn send_audio(&mut self, samples: &[i16]) -> io::Result<usize> {
        self.started = true;
        transmit(&mut self.sender, &mut self.socket, samples)
    }

    /// Waits until datagrams may be ready for [`RtpStream::drain`].
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Hands every queued datagram to the cores as arriving at `now`; returns how many.
    pub fn drain(&mut self, now: Instant) -> io::Result<usize> {
        let mut n = 0;
        while let Some(datagram) = self.socket.try_recv()? {
            n += 1;
            match self.receiver.receive(datagram.data) {
                Ok(Received::Audio(audio)) => {
                    self.playout.push(now, &audio);
                }
                Ok(Received::Event(event)) => {
                    // Malformed events are counted by the event receiver.
                    let _ = self.events.handle_packet(&event);
                }
                // Comfort noise, unknown types and malformed packets are counted by the
                // receiver and go no further.
                Ok(Received::ComfortNoise | Received::Unknown { .. }) | Err(_) => {}
            }
        }
        while self.receiver.poll_event().is_some() {}
        Ok(n)
    }

    /// The next 20 ms frame to play; call every 20 ms of the media clock.
    pub fn pop_frame(&mut self, now: Instant) -> Frame<'_> {
        self.playout.pop_frame(now)
    }

    /// As [`RtpStream::pop_frame`], into the caller's buffer; false for a gap.
    pub fn pop_frame_into(&mut self, now: Instant, out: &mut [i16; FRAME_SAMPLES]) -> bool {
        self.playout.pop_frame_into(now, out)
    }

    /// The next fax tone signalled as an RFC 4733 event.
    pub fn poll_tone(&mut self) -> Option<ToneEvent> {
        self.events.poll_event()
    }

    /// Takes a re-INVITE's SDP: new remote address (latching re-armed) and payload types.
    pub fn relatch(&mut self, remote: SocketAddr, map: PayloadMap) {
        self.socket.set_filter(StreamFilter::rtp(&map));
        self.receiver.set_payload_map(map);
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

    /// Gives the socket back, for a switch of the same port to T.38 (or back).
    pub fn into_socket(self) -> MediaSocket {
        self.socket
    }

    /// What the sender has sent.
    pub fn sender_stats(&self) -> SenderStats {
        self.sender.stats()
    }

    /// What the receiver has seen.
    pub fn receiver_stats(&self) -> ReceiverStats {
        self.receiver.stats()
    }

    /// What the playout buffer has done.
    pub fn playout_stats(&self) -> PlayoutStats {
        self.playout.stats()
    }
}

/// Packetises `samples` and sends each datagram as it is made; returns how many went out.
/// After a socket error the rest of this call's datagrams are dropped (late media is useless).
fn transmit(
    sender: &mut RtpSender,
    socket: &mut MediaSocket,
    samples: &[i16],
) -> io::Result<usize> {
    let mut sent = 0;
    let mut failed = None;
    sender.push_audio_with(samples, |datagram| {
        if failed.is_none() {
            match socket.send(&datagram) {
                Ok(went) => sent += usize::from(went),
                Err(e) => failed = Some(e),
            }
        }
    });
    failed.map_or(Ok(sent), Err)
}

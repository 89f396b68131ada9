//! One readiness poll for many media sockets. A call drains its socket every 20 ms tick, and
//! most ticks of a T.38 call find nothing queued: asking each socket costs an empty
//! `recvfrom` per call per tick, about as much kernel time as all the datagrams received.
//! A scheduler shard instead asks the kernel once per tick which of its sockets have
//! datagrams (`epoll_wait` with no timeout, edge-triggered), and the others skip the call.
//!
//! The set only informs: nobody waits on it, so a datagram arriving wakes no thread. A
//! socket it watches asks the kernel until a receive finds it empty, then stays quiet until
//! the set reports it again ([`MediaSocket::mark_ready`]).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::media_socket::{MediaSocket, Readiness};

/// Events taken per `epoll_wait`; more are taken by asking again.
const EVENTS_PER_WAIT: usize = 1024;

/// A private epoll instance that reports which watched sockets received datagrams.
pub struct ReadinessSet {
    poll: Poll,
    events: Events,
}

impl std::fmt::Debug for ReadinessSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessSet").finish_non_exhaustive()
    }
}

impl ReadinessSet {
    /// A new, empty set.
    pub fn new() -> io::Result<Self> {
        Ok(ReadinessSet {
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS_PER_WAIT),
        })
    }

    /// Watches `socket`, reported under `key` from now on. Until [`ReadinessSet::forget`],
    /// the socket skips receives unless it was reported (or has not yet found itself empty).
    pub fn watch(&self, socket: &mut MediaSocket, key: usize) -> io::Result<()> {
        let fd = socket.as_raw_fd();
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), Token(key), Interest::READABLE)?;
        // Datagrams may already be queued: the first receive asks.
        socket.set_readiness(Readiness::Ready);
        Ok(())
    }

    /// Stops watching `socket`; its receives ask the kernel every time again.
    pub fn forget(&self, socket: &mut MediaSocket) {
        let fd = socket.as_raw_fd();
        // Deregistering fails only for a socket that was never watched here.
        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        socket.set_readiness(Readiness::Untracked);
    }

    /// Appends the keys of the sockets that received something since the last call, without
    /// waiting. A key may appear for a socket no longer watched (it closed meanwhile).
    pub fn ready(&mut self, keys: &mut Vec<usize>) -> io::Result<()> {
        loop {
            match self.poll.poll(&mut self.events, Some(Duration::ZERO)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let before = keys.len();
            keys.extend(self.events.iter().map(|e| e.token().0));
            if keys.len() - before < EVENTS_PER_WAIT {
                return Ok(());
            }
        }
    }
}

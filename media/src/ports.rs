//! The media port pool: UDP ports for RTP and UDPTL streams, handed out from a configured
//! range and given back when the call ends.
//!
//! Ports go out in pairs, as RFC 3550 §11 asks of RTP: the stream on an even port, the next
//! (odd) port kept for its RTCP, so that a peer that assumes `port + 1` for RTCP (RFC 3605
//! absent) never reaches another call. UDPTL (ITU-T T.38 §9.1) uses a pair too, so that one
//! pool serves both and a re-INVITE from audio to T.38 can keep its port.
//!
//! Sans-IO: the pool holds numbers, not sockets. [`PortPool::bind_with`] tries a caller's bind
//! function on free ports in turn and skips the ones that fail (another process holds them).
//! A [`PortLease`] gives its pair back when dropped. Freed pairs go to the back of the queue,
//! so a port is reused as late as possible and stray packets of an ended call rarely reach
//! the next one.

use std::collections::VecDeque;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::Error;

/// The free pairs and who holds what.
#[derive(Debug)]
struct State {
    /// Even ports free for leasing, oldest-freed first.
    free: VecDeque<u16>,
    /// Whether each pair (indexed from the first even port) is leased.
    leased: Vec<bool>,
}

/// Shared by a pool and its leases.
#[derive(Debug)]
struct Shared {
    first: u16,
    last: u16,
    base: u16,
    state: Mutex<State>,
}

impl Shared {
    /// The state; a lock poisoned by a panic elsewhere is still consistent (every update is a
    /// single push or pop), so it is used as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn index(&self, port: u16) -> usize {
        usize::from((port - self.base) / 2)
    }
}

/// A range of UDP ports shared by every call of the process; cheap to clone.
#[derive(Debug, Clone)]
pub struct PortPool {
    shared: Arc<Shared>,
}

impl PortPool {
    /// A pool over `range` (inclusive): every even port `p` with `p + 1` also in range.
    pub fn new(range: RangeInclusive<u16>) -> Result<Self, Error> {
        let (first, last) = (*range.start(), *range.end());
        let bad = Error::BadPortRange { first, last };
        // The first even port of the range (port 0 cannot be bound to a known number).
        let lowest = first.max(2);
        let base = lowest.checked_add(lowest % 2).ok_or(bad.clone())?;
        if first == 0 || base >= last {
            return Err(bad);
        }
        let free: VecDeque<u16> = (base..last).step_by(2).collect();
        let leased = vec![false; free.len()];
        Ok(PortPool {
            shared: Arc::new(Shared {
                first,
                last,
                base,
                state: Mutex::new(State { free, leased }),
            }),
        })
    }

    /// The configured range.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.shared.first..=self.shared.last
    }

    /// Port pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.shared.lock().leased.len()
    }

    /// Port pairs free now.
    pub fn available(&self) -> usize {
        self.shared.lock().free.len()
    }

    /// Leases the free pair that has been free longest.
    pub fn allocate(&self) -> Result<PortLease, Error> {
        let mut state = self.shared.lock();
        let capacity = state.leased.len();
        let Some(port) = state.free.pop_front() else {
            return Err(Error::PortsExhausted {
                first: self.shared.first,
                last: self.shared.last,
                capacity,
            });
        };
        let index = self.shared.index(port);
        if let Some(slot) = state.leased.get_mut(index) {
            *slot = true;
        }
        Ok(PortLease {
            shared: Arc::clone(&self.shared),
            port,
        })
    }

    /// Leases a pair and binds it with `bind`, skipping ports `bind` fails on (they go back
    /// to the pool, to be tried again later); gives up once every port free at the start has
    /// failed.
    pub fn bind_with<T, E: fmt::Display>(
        &self,
        mut bind: impl FnMut(u16) -> Result<T, E>,
    ) -> Result<(PortLease, T), Error> {
        let attempts = self.available();
        let mut last_error = String::from("no port was free");
        for tried in 0..attempts {
            let lease = self.allocate()?;
            match bind(lease.port()) {
                Ok(bound) => return Ok((lease, bound)),
                Err(e) => {
                    tracing::debug!(port = lease.port(), error = %e, tried, "media port skipped");
                    last_error = format!("port {}: {e}", lease.port());
                }
            }
        }
        if attempts == 0 {
            // Nothing free: the exhaustion error says so.
            return self.allocate().and_then(|_| {
                Err(Error::NoBindablePort {
                    tried: 0,
                    last_error,
                })
            });
        }
        Err(Error::NoBindablePort {
            tried: attempts,
            last_error,
        })
    }
}

/// One leased port pair: the stream's even port and the RTCP port after it; dropping it gives
/// both back to the pool.
pub struct PortLease {
    shared: Arc<Shared>,
    port: u16,
}

impl PortLease {
    /// The even port, for RTP or UDPTL.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The odd port after it, kept for RTCP.
    pub fn rtcp_port(&self) -> u16 {
        self.port + 1
    }
}

impl fmt::Debug for PortLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortLease")
            .field("port", &self.port)
            .finish()
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let index = self.shared.index(self.port);
        let mut state = self.shared.lock();
        if let Some(slot) = state.leased.get_mut(index) {
            if *slot {
                *slot = false;
                state.free.push_back(self.port);
            }
        }
    }
}

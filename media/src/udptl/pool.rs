//! Reusable IFP buffers for the receiver, so that receiving in the steady state allocates
//! nothing: every buffer taken is given back once its IFP has left the history or been
//! handed out, and keeps its capacity for the next. The pool is filled once, when a stream
//! starts, with as many buffers as the receiver's limits let it use at a time.

/// Capacity of a new buffer: SpanDSP's paced IFPs are at most 59 octets, so buffers rarely
/// grow; one that does keeps its larger capacity.
const BUFFER_CAPACITY: usize = 64;

/// Buffers beyond what [`Pool::fill`] asked for that are kept when given back, for a delivery
/// queue the caller lets grow; more than that (after a spike) are freed.
const SLACK: usize = 64;

/// Spare IFP buffers.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    spare: Vec<Vec<u8>>,
    /// Most spare buffers kept.
    max_spare: usize,
}

impl Pool {
    /// Makes `n` buffers up front (once a stream starts), so that the receiver allocates none
    /// later while no more than that are in use at once.
    pub(crate) fn fill(&mut self, n: usize) {
        self.max_spare = self.max_spare.max(n + SLACK);
        self.spare
            .reserve(self.max_spare.saturating_sub(self.spare.len()));
        while self.spare.len() < n {
            self.spare.push(Vec::with_capacity(BUFFER_CAPACITY));
        }
    }

    /// An empty buffer: a spare one, or a new one while the pool is still filling.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_CAPACITY))
    }

    /// A buffer holding a copy of `data`.
    pub(crate) fn copy_of(&mut self, data: &[u8]) -> Vec<u8> {
        let mut buf = self.take();
        buf.extend_from_slice(data);
        buf
    }

    /// Takes back a buffer that is no longer needed.
    pub(crate) fn give(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < self.max_spare {
            buf.clear();
            self.spare.push(buf);
        }
    }
}

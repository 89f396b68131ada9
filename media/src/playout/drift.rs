//! How far the buffer level has drifted since the call started, robust to jitter.
//!
//! Each packet's lead (how much audio it brings beyond what is playing when it arrives)
//! swings by the jitter range, so one reading says little; the highest lead over a block of
//! frames is the lead of the least-delayed packets, which is steady unless the two clocks
//! differ. The first block's maximum is the reference; the last complete block's maximum
//! minus the reference is the drift. Blocks count frames, not packets, so a far end that
//! stops sending does not look like a slow clock: its blocks simply have no maximum.

/// Tracks the buffer level block by block.
#[derive(Debug, Clone)]
pub(crate) struct DriftTracker {
    block_len: u32,
    frames: u32,
    block_max: Option<i64>,
    last_block_max: Option<i64>,
    reference: Option<i64>,
}

impl DriftTracker {
    /// A tracker measuring over blocks of `block_len` frames.
    pub(crate) fn new(block_len: u32) -> Self {
        DriftTracker {
            block_len: block_len.max(1),
            frames: 0,
            block_max: None,
            last_block_max: None,
            reference: None,
        }
    }

    /// Records the lead of a packet that just arrived (samples).
    pub(crate) fn observe(&mut self, lead: i64) {
        self.block_max = Some(self.block_max.map_or(lead, |m| m.max(lead)));
    }

    /// Counts one frame played; closes the block when it is full.
    pub(crate) fn frame(&mut self) {
        self.frames += 1;
        if self.frames >= self.block_len {
            self.frames = 0;
            self.last_block_max = self.block_max.take();
            if self.reference.is_none() {
                self.reference = self.last_block_max;
            }
        }
    }

    /// Drift in samples (positive: more buffered than at the start), once measurable.
    pub(crate) fn drift(&self) -> Option<i64> {
        Some(self.last_block_max? - self.reference?)
    }

    /// Accounts for a slip: the level moves by `delta` samples at once.
    pub(crate) fn shift(&mut self, delta: i64) {
        if let Some(m) = self.block_max.as_mut() {
            *m += delta;
        }
        if let Some(m) = self.last_block_max.as_mut() {
            *m += delta;
        }
    }
}

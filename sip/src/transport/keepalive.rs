//! When to ping an idle connection and when to give up on it (RFC 5626 §4.4.1: CRLFCRLF
//! pings; a pong must arrive within 10 s or the flow has failed), sans-IO.

use std::time::{Duration, Instant};

/// Keep-alive timing for stream connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveConfig {
    /// Send a ping after this long without traffic in either direction; `None` disables.
    pub idle: Option<Duration>,
    /// Close the connection when no pong arrives within this (RFC 5626: 10 s).
    pub pong_timeout: Duration,
}

impl Default for KeepAliveConfig {
    /// A ping after 30 s of silence (well inside common NAT TCP timeouts), 10 s for the pong.
    fn default() -> Self {
        KeepAliveConfig {
            idle: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
        }
    }
}

/// What the connection must do at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveAction {
    /// Send [`PING`](super::PING).
    SendPing,
    /// The flow has failed: close it.
    Close,
}

/// Keep-alive state of one connection.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    cfg: KeepAliveConfig,
    last_activity: Instant,
    ping_sent_at: Option<Instant>,
}

impl KeepAlive {
    /// State for a connection that just opened.
    pub fn new(cfg: KeepAliveConfig, now: Instant) -> Self {
        KeepAlive {
            cfg,
            last_activity: now,
            ping_sent_at: None,
        }
    }

    /// Bytes went either way: the connection is not idle. A pending ping still wants its
    /// pong, since only the pong proves the path back works.
    pub fn on_activity(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// A pong arrived.
    pub fn on_pong(&mut self, now: Instant) {
        self.ping_sent_at = None;
        self.last_activity = now;
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.ping_sent_at {
            Some(at) => at.checked_add(self.cfg.pong_timeout),
            None => self
                .cfg
                .idle
                .and_then(|d| self.last_activity.checked_add(d)),
        }
    }

    /// What to do now, if anything.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<KeepAliveAction> {
        let due = self.poll_timeout()?;
        if now < due {
            return None;
        }
        if self.ping_sent_at.is_some() {
            return Some(KeepAliveAction::Close);
        }
        self.ping_sent_at = Some(now);
        Some(KeepAliveAction::SendPing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_then_close_without_pong() {
        let t0 = Instant::now();
        let cfg = KeepAliveConfig {
            idle: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
        };
        let mut k = KeepAlive::new(cfg, t0);
        assert_eq!(k.handle_timeout(t0 + Duration::from_secs(29)), None);
        k.on_activity(t0 + Duration::from_secs(20));
        assert_eq!(k.poll_timeout(), Some(t0 + Duration::from_secs(50)));
        let t = t0 + Duration::from_secs(50);
        assert_eq!(k.handle_timeout(t), Some(KeepAliveAction::SendPing));
        assert_eq!(k.poll_timeout(), Some(t + Duration::from_secs(10)));
        k.on_activity(t + Duration::from_secs(1));
        assert_eq!(
            k.handle_timeout(t + Duration::from_secs(10)),
            Some(KeepAliveAction::Close)
        );
    }

    #[test]
    fn pong_rearms() {
        let t0 = Instant::now();
        let mut k = KeepAlive::new(KeepAliveConfig::default(), t0);
        let t = t0 + Duration::from_secs(30);
        assert_eq!(k.handle_timeout(t), Some(KeepAliveAction::SendPing));
        k.on_pong(t + Duration::from_secs(1));
        assert_eq!(k.poll_timeout(), Some(t + Duration::from_secs(31)));
    }

    #[test]
    fn disabled() {
        let cfg = KeepAliveConfig {
            idle: None,
            pong_timeout: Duration::from_secs(10),
        };
        let mut k = KeepAlive::new(cfg, Instant::now());
        assert_eq!(k.poll_timeout(), None);
        assert_eq!(k.handle_timeout(Instant::now()), None);
    }
}

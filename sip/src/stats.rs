//! Process-wide counters of finished SIP transactions, by side, method and how they ended,
//! for `/metrics`.
//!
//! Plain atomics in a fixed table: the transaction layer bumps one per finished transaction
//! without locking or allocating, and a scrape reads them all. One table serves every layer
//! of the process ([`Counters::global`]), as a metrics endpoint wants.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::msg::Method;

/// Which side of the transaction we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// We sent the request.
    Client,
    /// We received it.
    Server,
}

impl Side {
    const ALL: [Side; 2] = [Side::Client, Side::Server];

    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// How a transaction ended: the class of its final response, or no final response at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// A final response of class `n` (2 to 6).
    Class(u8),
    /// No final response before the transaction's timer expired.
    Timeout,
    /// The transport could not send.
    TransportError,
}

impl End {
    const ALL: [End; 7] = [
        End::Class(2),
        End::Class(3),
        End::Class(4),
        End::Class(5),
        End::Class(6),
        End::Timeout,
        End::TransportError,
    ];

    /// The end of a transaction whose final response had `status`.
    pub fn of_status(status: u16) -> End {
        End::Class((status / 100).clamp(2, 6) as u8)
    }

    /// `2xx` … `6xx`, `timeout` or `transport_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            End::Class(2) => "2xx",
            End::Class(3) => "3xx",
            End::Class(4) => "4xx",
            End::Class(5) => "5xx",
            End::Class(_) => "6xx",
            End::Timeout => "timeout",
            End::TransportError => "transport_error",
        }
    }

    fn index(self) -> usize {
        match self {
            End::Class(n) => usize::from(n.clamp(2, 6) - 2),
            End::Timeout => 5,
            End::TransportError => 6,
        }
    }
}

/// Methods with a row of their own; anything else counts as `OTHER`.
const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
    "OTHER",
];

fn method_index(m: &Method) -> usize {
    match m {
        Method::Extension(_) => METHODS.len() - 1,
        m => METHODS
            .iter()
            .position(|n| *n == m.as_str())
            .unwrap_or(METHODS.len() - 1),
    }
}

const SLOTS: usize = 2 * METHODS.len() * End::ALL.len();

/// One nonzero cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionCount {
    /// Our side.
    pub side: Side,
    /// The request method (`OTHER` for extensions).
    pub method: &'static str,
    /// How it ended.
    pub end: End,
    /// Transactions so counted.
    pub count: u64,
}

/// Finished transactions by side, method and end.
#[derive(Debug)]
pub struct Counters {
    cells: [AtomicU64; SLOTS],
}

static GLOBAL: Counters = Counters::new();

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl Counters {
    /// An all-zero table.
    pub const fn new() -> Self {
        Counters {
            cells: [const { AtomicU64::new(0) }; SLOTS],
        }
    }

    /// The table every transaction layer of this process counts into.
    pub fn global() -> &'static Counters {
        &GLOBAL
    }

    fn slot(side: Side, method: usize, end: End) -> usize {
        let s = match side {
            Side::Client => 0,
            Side::Server => 1,
        };
        (s * METHODS.len() + method) * End::ALL.len() + end.index()
    }

    /// Counts one finished transaction.
    pub fn record(&self, side: Side, method: &Method, end: End) {
        self.cells[Self::slot(side, method_index(method), end)].fetch_add(1, Ordering::Relaxed);
    }

    /// Every nonzero cell, in a fixed order (side, method, end).
    pub fn snapshot(&self) -> Vec<TransactionCount> {
        let mut out = Vec::new();
        for side in Side::ALL {
            for (m, method) in METHODS.iter().enumerate() {
                for end in End::ALL {
                    let count = self.cells[Self::slot(side, m, end)].load(Ordering::Relaxed);
                    if count > 0 {
                        out.push(TransactionCount {
                            side,
                            method,
                            end,
                            count,
                        });
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_distinct_and_snapshot_lists_only_nonzero() {
        let c = Counters::new();
        c.record(Side::Client, &Method::Invite, End::of_status(200));
        c.record(Side::Client, &Method::Invite, End::of_status(486));
        c.record(Side::Client, &Method::Invite, End::of_status(486));
        c.record(Side::Server, &Method::Extension("FOO".into()), End::Timeout);
        c.record(Side::Server, &Method::Update, End::of_status(699));
        let got: Vec<_> = c
            .snapshot()
            .into_iter()
            .map(|t| (t.side.as_str(), t.method, t.end.as_str(), t.count))
            .collect();
        assert_eq!(
            got,
            vec![
                ("client", "INVITE", "2xx", 1),
                ("client", "INVITE", "4xx", 2),
                ("server", "UPDATE", "6xx", 1),
                ("server", "OTHER", "timeout", 1),
            ]
        );
    }
}

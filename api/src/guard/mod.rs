//! Abuse protection shared by the auth extractors: repeated authentication failures from one
//! address are refused for a growing time, and each tenant's request rate is capped.
//!
//! Both tables live in memory, bounded, behind short-held mutexes; the decisions are sans-IO
//! ([`failures`], [`buckets`]) and take the time from [`Guard`]'s clock, which tests replace.
//! The source address comes from axum's `ConnectInfo`, so the server must be run with
//! `into_make_service_with_connect_info::<SocketAddr>()`; without it (as in `oneshot` tests)
//! failures are not tracked. IPv6 clients are keyed by their /64, which one host can
//! usually change freely.

pub mod buckets;
pub mod failures;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use store::TenantId;

use crate::error::ApiError;
use buckets::{Buckets, RateLimit};
use failures::{FailureLimits, FailureTable};

/// Limits of the guard.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GuardSettings {
    /// Authentication failures per address.
    pub auth_failures: FailureLimits,
    /// Requests per tenant.
    pub tenant_rate: RateLimit,
}

/// The guard's state; clones share it.
#[derive(Clone)]
pub struct Guard {
    failures: Arc<Mutex<FailureTable>>,
    rates: Arc<Mutex<Buckets<TenantId>>>,
    clock: Arc<dyn Fn() -> Instant + Send + Sync>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new(GuardSettings::default())
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard with empty tables and the system clock.
    pub fn new(settings: GuardSettings) -> Self {
        Guard {
            failures: Arc::new(Mutex::new(FailureTable::new(settings.auth_failures))),
            rates: Arc::new(Mutex::new(Buckets::new(settings.tenant_rate))),
            clock: Arc::new(Instant::now),
        }
    }

    /// The same guard reading the time from `clock` (tests step it instead of sleeping).
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Refuses a blocked address before its credentials are even looked at.
    pub(crate) fn before_auth(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip else { return Ok(()) };
        lock(&self.failures)
            .check(ip, (self.clock)())
            .map_err(|left| ApiError::TooManyAuthFailures {
                retry_after: seconds(left),
            })
    }

    /// Records wrong credentials; logs the block it starts in a line fail2ban can match.
    pub(crate) fn auth_failed(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        if let Some(block) = lock(&self.failures).failed(ip, (self.clock)()) {
            tracing::warn!(
                "api auth failures from {ip}: blocked for {}s",
                seconds(block)
            );
        }
    }

    /// Records good credentials.
    pub(crate) fn auth_succeeded(&self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            lock(&self.failures).succeeded(ip);
        }
    }

    /// Takes one request from the tenant's budget.
    pub(crate) fn tenant_request(&self, tenant: TenantId) -> Result<(), ApiError> {
        lock(&self.rates)
            .take(tenant, (self.clock)())
            .map_err(|wait| ApiError::RateLimited {
                retry_after: seconds(wait),
            })
    }
}

/// The address failures are counted under: the peer's IP, IPv6 reduced to its /64.
pub(crate) fn client_ip(parts: &Parts) -> Option<IpAddr> {
    let ConnectInfo(addr) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(match addr.ip().to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    })
}

/// Whole seconds for `Retry-After`, rounded up and at least 1.
fn seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Locks a table; a panic elsewhere cannot leave it inconsistent (every update is one
/// assignment), so a poisoned lock is used as is rather than taking the API down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

//! Caps on concurrent channels (global, per tenant, per gateway) and the call rate per
//! gateway, with back-off while a gateway answers 503.
//!
//! The counting and the token buckets are plain structs fed the time ([`ChannelCounts`],
//! [`CallRate`]), so they are tested with a manual clock; [`Limits`] shares them between
//! tasks behind short-lived locks. gofaxserver had no limit at all (behaviour §0).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use store::{GatewayId, TenantId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The configured caps; `None` = no cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Caps {
    /// Channels in use at once in this process, inbound and outbound.
    pub global: u32,
    /// Channels one tenant may use at once.
    pub per_tenant: Option<u32>,
    /// Channels one gateway may carry at once.
    pub per_gateway: Option<u32>,
    /// New calls per second to one gateway (a token bucket holding one second's worth).
    pub gateway_cps: Option<f64>,
    /// The first pause after a gateway answers 503 without `Retry-After`; doubles while the
    /// 503s go on.
    pub overload_backoff: Duration,
    /// The longest such pause, `Retry-After` included.
    pub overload_max: Duration,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            global: 64,
            per_tenant: None,
            per_gateway: None,
            gateway_cps: Some(10.0),
            overload_backoff: Duration::from_secs(5),
            overload_max: Duration::from_secs(300),
        }
    }
}

/// Channels in use per tenant and per gateway.
#[derive(Debug, Default)]
pub struct ChannelCounts {
    tenants: HashMap<TenantId, u32>,
    gateways: HashMap<GatewayId, u32>,
}

impl ChannelCounts {
    /// Takes a channel for `tenant` (and `gateway`) if both are under their caps.
    pub fn try_take(&mut self, caps: &Caps, tenant: TenantId, gateway: Option<GatewayId>) -> bool {
        let t = self.tenants.get(&tenant).copied().unwrap_or(0);
        if caps.per_tenant.is_some_and(|cap| t >= cap) {
            return false;
        }
        if let Some(g) = gateway {
            let n = self.gateways.get(&g).copied().unwrap_or(0);
            if caps.per_gateway.is_some_and(|cap| n >= cap) {
                return false;
            }
            *self.gateways.entry(g).or_default() += 1;
        }
        *self.tenants.entry(tenant).or_default() += 1;
        true
    }

    /// Gives back what [`Self::try_take`] took.
    pub fn give_back(&mut self, tenant: TenantId, gateway: Option<GatewayId>) {
        release(&mut self.tenants, tenant);
        if let Some(g) = gateway {
            release(&mut self.gateways, g);
        }
    }

    /// Channels `tenant` uses now.
    pub fn tenant(&self, tenant: TenantId) -> u32 {
        self.tenants.get(&tenant).copied().unwrap_or(0)
    }

    /// Channels `gateway` carries now.
    pub fn gateway(&self, gateway: GatewayId) -> u32 {
        self.gateways.get(&gateway).copied().unwrap_or(0)
    }
}

fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&key);
        }
    }
}

/// One gateway's call rate: a token bucket, and a pause while it answers 503.
#[derive(Debug, Clone)]
pub struct CallRate {
    tokens: f64,
    last: DateTime<Utc>,
    paused_until: Option<DateTime<Utc>>,
    overloads: u32,
}

impl CallRate {
    /// A full bucket at `now`.
    pub fn new(caps: &Caps, now: DateTime<Utc>) -> Self {
        CallRate {
            tokens: burst(caps),
            last: now,
            paused_until: None,
            overloads: 0,
        }
    }

    /// Takes a call slot, or says how long to wait for one.
    pub fn try_call(&mut self, caps: &Caps, now: DateTime<Utc>) -> Result<(), Duration> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Err((until - now).to_std().unwrap_or_default());
            }
        }
        let Some(rate) = caps.gateway_cps.filter(|r| *r > 0.0) else {
            return Ok(());
        };
        let elapsed = (now - self.last).to_std().unwrap_or_default().as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst(caps));
        self.last = now.max(self.last);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
    }

    /// Learns from the final response to a call: a 503 pauses new calls (for `Retry-After`,
    /// or a back-off that doubles while 503s continue); any other answer ends the pause.
    pub fn on_response(
        &mut self,
        caps: &Caps,
        now: DateTime<Utc>,
        status: Option<u16>,
        retry_after: Option<u32>,
    ) {
        match status {
            Some(503) => {
                self.overloads = self.overloads.saturating_add(1);
                let backoff = caps
                    .overload_backoff
                    .saturating_mul(1u32 << self.overloads.saturating_sub(1).min(16));
                let wait = match retry_after {
                    Some(s) => Duration::from_secs(u64::from(s)),
                    None => backoff,
                }
                .min(caps.overload_max);
                let until = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::zero());
                self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
            }
            Some(_) => {
                self.overloads = 0;
                self.paused_until = None;
            }
            // No answer at all says nothing about overload.
            None => {}
        }
    }

    /// Until when new calls wait, if they do.
    pub fn paused_until(&self) -> Option<DateTime<Utc>> {
        self.paused_until
    }
}

fn burst(caps: &Caps) -> f64 {
    caps.gateway_cps.map_or(1.0, |r| r.max(1.0))
}

/// The caps, shared by every worker and inbound call of the process.
#[derive(Debug, Clone)]
pub struct Limits {
    caps: Caps,
    global: Arc<Semaphore>,
    counts: Arc<Mutex<ChannelCounts>>,
    rates: Arc<Mutex<HashMap<GatewayId, CallRate>>>,
}

/// A channel held; given back when dropped.
#[derive(Debug)]
pub struct Channel {
    tenant: TenantId,
    gateway: Option<GatewayId>,
    counts: Arc<Mutex<ChannelCounts>>,
    _global: OwnedSemaphorePermit,
}

impl Drop for Channel {
    fn drop(&mut self) {
        lock(&self.counts).give_back(self.tenant, self.gateway);
    }
}

/// A global channel not yet assigned to a tenant.
#[derive(Debug)]
pub struct GlobalSlot(OwnedSemaphorePermit);

impl Limits {
    /// Limits with these caps.
    pub fn new(caps: Caps) -> Self {
        Limits {
            global: Arc::new(Semaphore::new(caps.global.max(1) as usize)),
            caps,
            counts: Arc::default(),
            rates: Arc::default(),
        }
    }

    /// The caps.
    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// Waits for a free global channel; `None` only if the limits were closed.
    pub async fn global_slot(&self) -> Option<GlobalSlot> {
        self.global
            .clone()
            .acquire_owned()
            .await
            .ok()
            .map(GlobalSlot)
    }

    /// A free global channel now, if there is one.
    pub fn try_global_slot(&self) -> Option<GlobalSlot> {
        self.global.clone().try_acquire_owned().ok().map(GlobalSlot)
    }

    /// Turns a global slot into a channel of `tenant` through `gateway`, if their caps allow;
    /// the slot comes back on refusal so that the caller can keep or drop it.
    pub fn channel(
        &self,
        slot: GlobalSlot,
        tenant: TenantId,
        gateway: Option<GatewayId>,
    ) -> Result<Channel, GlobalSlot> {
        if !lock(&self.counts).try_take(&self.caps, tenant, gateway) {
            return Err(slot);
        }
        Ok(Channel {
            tenant,
            gateway,
            counts: self.counts.clone(),
            _global: slot.0,
        })
    }

    /// Takes a call slot on `gateway`, or says how long to wait.
    pub fn try_call(&self, gateway: GatewayId, now: DateTime<Utc>) -> Result<(), Duration> {
        let mut rates = lock(&self.rates);
        let rate = rates
            .entry(gateway)
            .or_insert_with(|| CallRate::new(&self.caps, now));
        rate.try_call(&self.caps, now)
    }

    /// Tells the gateway's rate how it answered.
    pub fn on_response(
        &self,
        gateway: GatewayId,
        now: DateTime<Utc>,
        status: Option<u16>,
        retry_after: Option<u32>,
    ) {
        let mut rates = lock(&self.rates);
        let rate = rates
            .entry(gateway)
            .or_insert_with(|| CallRate::new(&self.caps, now));
        rate.on_response(&self.caps, now, status, retry_after);
    }
}

/// Locks, carrying on after a panic elsewhere: the counts stay usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn ms(n: i64) -> TimeDelta {
        TimeDelta::milliseconds(n)
    }

    #[test]
    fn tenant_and_gateway_caps() {
        let caps = Caps {
            per_tenant: Some(2),
            per_gateway: Some(1),
            ..Caps::default()
        };
        let mut c = ChannelCounts::default();
        let (t1, t2, g1, g2) = (TenantId(1), TenantId(2), GatewayId(1), GatewayId(2));
        assert!(c.try_take(&caps, t1, Some(g1)));
        assert!(!c.try_take(&caps, t2, Some(g1)), "gateway 1 is full");
        assert_eq!(c.tenant(t2), 0, "a refusal takes nothing");
        assert!(c.try_take(&caps, t1, Some(g2)));
        assert!(!c.try_take(&caps, t1, None), "tenant 1 is full");
        assert!(c.try_take(&caps, t2, None));
        c.give_back(t1, Some(g1));
        assert_eq!((c.tenant(t1), c.gateway(g1)), (1, 0));
        assert!(c.try_take(&caps, t2, Some(g1)));
        c.give_back(TenantId(9), Some(GatewayId(9)));
        assert_eq!(
            c.tenant(TenantId(9)),
            0,
            "giving back what was never taken is harmless"
        );
    }

    #[test]
    fn token_bucket_with_a_manual_clock() {
        let caps = Caps {
            gateway_cps: Some(2.0),
            ..Caps::default()
        };
        let mut r = CallRate::new(&caps, t0());
        assert!(r.try_call(&caps, t0()).is_ok());
        assert!(
            r.try_call(&caps, t0()).is_ok(),
            "a burst of one second's worth"
        );
        let wait = r.try_call(&caps, t0()).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(r.try_call(&caps, t0() + ms(499)).is_err());
        assert!(r.try_call(&caps, t0() + ms(500)).is_ok());
        // A long quiet spell refills to the burst, never beyond.
        let later = t0() + TimeDelta::seconds(60);
        assert!(r.try_call(&caps, later).is_ok());
        assert!(r.try_call(&caps, later).is_ok());
        assert!(r.try_call(&caps, later).is_err());
        let no_cap = Caps {
            gateway_cps: None,
            ..Caps::default()
        };
        let mut free = CallRate::new(&no_cap, t0());
        assert!((0..1000).all(|_| free.try_call(&no_cap, t0()).is_ok()));
    }

    #[test]
    fn overload_backs_off_and_recovers() {
        let caps = Caps {
            gateway_cps: None,
            overload_backoff: Duration::from_secs(5),
            overload_max: Duration::from_secs(30),
            ..Caps::default()
        };
        let mut r = CallRate::new(&caps, t0());
        r.on_response(&caps, t0(), Some(503), None);
        assert_eq!(r.try_call(&caps, t0()), Err(Duration::from_secs(5)));
        let t = t0() + TimeDelta::seconds(5);
        assert!(r.try_call(&caps, t).is_ok());
        r.on_response(&caps, t, Some(503), None);
        assert_eq!(
            r.try_call(&caps, t),
            Err(Duration::from_secs(10)),
            "doubles"
        );
        r.on_response(&caps, t, Some(503), Some(120));
        assert_eq!(
            r.try_call(&caps, t),
            Err(Duration::from_secs(30)),
            "Retry-After, capped"
        );
        r.on_response(&caps, t, None, None);
        assert!(
            r.try_call(&caps, t).is_err(),
            "silence does not end the pause"
        );
        r.on_response(&caps, t, Some(486), None);
        assert!(r.try_call(&caps, t).is_ok(), "any other answer does");
        r.on_response(&caps, t, Some(503), None);
        assert_eq!(
            r.paused_until(),
            Some(t + TimeDelta::seconds(5)),
            "and resets the doubling"
        );
    }

    #[tokio::test]
    async fn channels_come_back_when_dropped() {
        let limits = Limits::new(Caps {
            global: 2,
            per_tenant: Some(1),
            ..Caps::default()
        });
        let a = limits.try_global_slot().unwrap();
        let b = limits.try_global_slot().unwrap();
        assert!(limits.try_global_slot().is_none(), "global cap");
        let ch = limits.channel(a, TenantId(1), None).unwrap();
        let b = limits
            .channel(b, TenantId(1), None)
            .expect_err("tenant cap");
        drop(b);
        assert!(
            limits.try_global_slot().is_some(),
            "a refused slot is free again once dropped"
        );
        drop(ch);
        let c = limits.try_global_slot().unwrap();
        assert!(limits.channel(c, TenantId(1), None).is_ok());
    }
}

//! Keeping our contact registered (RFC 3261 §10.2) as a sans-IO state machine over the
//! [`TransactionLayer`].
//!
//! - One Call-ID for every REGISTER to the registrar, CSeq one higher each time
//!   (§10.2.4); Expires as configured, raised to the registrar's Min-Expires after a 423
//!   (§10.3 step 7).
//! - The 200 tells the granted expiry: our Contact's `expires` parameter, else Expires,
//!   else what we asked (§10.2.4). We refresh at max(expires/2, expires − 30 s): half-way
//!   for short bindings, 30 s before the end for long ones, which is what most registrars
//!   expect and keeps a margin for one lost request and its retransmissions.
//! - 401/407 are answered through [`crate::auth`]; a second challenge for the same
//!   credentials is a failure, so a wrong password cannot loop.
//! - Transient failures (a timeout, a transport error, 408, 480, 486, 491, 5xx, 600) retry
//!   after an exponential back-off from `retry_base`, doubling up to `retry_max`, with
//!   "equal jitter" (half fixed, half random from the seeded generator) so that many
//!   accounts do not retry in step; a Retry-After from the registrar wins.
//! - Failures that asking again cannot fix (403, 404, a rejected password, any other 4xx or
//!   6xx; see [`retryable`]) stop the registration with [`RegistrationEvent::Rejected`]:
//!   hammering a registrar that refuses us gets accounts blocked. A Retry-After on such a
//!   response is the registrar saying when to ask again, so it is honoured as a retry.
//! - [`Registration::unregister`] sends Expires 0 on shutdown.
//! - The `received` and `rport` the registrar saw (RFC 3261 §18.2.1, RFC 3581) are kept from
//!   the 200's Via for NAT handling elsewhere.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::auth::{AuthAttempt, Credentials, DigestClient};
use crate::dialog::{after, LocalAgent};
use crate::error::{Error, Result};
use crate::msg::{HeaderName, Method, NameAddr, Request, Response, StatusCode, Uri};
use crate::rng::Rng;
use crate::transaction::{Peer, TransactionEvent, TransactionId, TransactionLayer};

/// Settings of one registration.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The Request-URI (`sip:registrar.example`).
    pub registrar: Uri,
    /// The address of record, in From and To.
    pub aor: NameAddr,
    /// Our Via sent-by, Contact and User-Agent.
    pub agent: LocalAgent,
    /// Where to send the REGISTER.
    pub peer: Peer,
    /// The expiry we ask for, in seconds.
    pub expires: u32,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// The first retry delay after a failure.
    pub retry_base: Duration,
    /// The longest retry delay.
    pub retry_max: Duration,
}

impl RegistrationConfig {
    /// One hour bindings, retries from 30 s up to 30 min.
    pub fn new(registrar: Uri, aor: NameAddr, agent: LocalAgent, peer: Peer) -> Self {
        RegistrationConfig {
            registrar,
            aor,
            agent,
            peer,
            expires: 3600,
            credentials: None,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(1800),
        }
    }
}

/// What the registrar granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact we registered.
    pub contact: Uri,
    /// Seconds granted.
    pub expires: u32,
    /// When the binding runs out.
    pub expires_at: Instant,
    /// The `received` address the registrar put in our Via, if any.
    pub received: Option<String>,
    /// The `rport` the registrar filled in our Via, if any.
    pub rport: Option<u16>,
}

/// What a registration tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum RegistrationEvent {
    /// The registrar accepted (or refreshed) our binding.
    Registered(Binding),
    /// The attempt failed; another follows after `retry_in`.
    Failed {
        /// The final response, or `None` for a timeout or transport failure.
        code: Option<StatusCode>,
        /// When the next attempt goes out.
        retry_in: Duration,
    },
    /// The registrar refused for a reason retrying cannot fix (403, 404, bad credentials):
    /// no further attempt until [`Registration::register`] is called again.
    Rejected {
        /// The final response.
        code: StatusCode,
    },
    /// Our binding was removed (or the un-REGISTER got no answer; we are done either way).
    Unregistered,
}

/// True when a REGISTER that failed with `code` may succeed if sent again unchanged: the
/// registrar or the path was busy, slow or broken (408, 480, 486, 491, 5xx, 600). Every
/// other failure (400, 403, 404, 401/407 after our credentials, 420, 6xx but 600, …) is
/// about the request or the account and needs an operator.
pub fn retryable(code: StatusCode) -> bool {
    matches!(code.as_u16(), 408 | 480 | 486 | 491 | 500..=599 | 600)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Registering,
    Registered,
    Waiting,
    Unregistering,
    Stopped,
    Rejected,
}

/// One registration at one registrar.
#[derive(Debug)]
pub struct Registration {
    cfg: RegistrationConfig,
    rng: Rng,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: State,
    expires: u32,
    tx: Option<TransactionId>,
    request: Option<Request>,
    attempt: AuthAttempt,
    auth: Option<DigestClient>,
    binding: Option<Binding>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    events: VecDeque<RegistrationEvent>,
}

/// max(expires/2, expires − 30) seconds.
pub fn refresh_delay(expires: u32) -> Duration {
    Duration::from_secs(u64::from((expires / 2).max(expires.saturating_sub(30))))
}

impl Registration {
    /// A registration that has sent nothing yet; `seed` drives Call-ID, tag, cnonces and
    /// jitter.
    pub fn new(cfg: RegistrationConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let call_id = format!("{}@{}", rng.hex(10), cfg.agent.host);
        let from_tag = rng.hex(5);
        let auth = cfg
            .credentials
            .clone()
            .map(|c| DigestClient::new(c, rng.next_u64()));
        Registration {
            expires: cfg.expires,
            cfg,
            rng,
            call_id,
            from_tag,
            cseq: 0,
            state: State::Idle,
            tx: None,
            request: None,
            attempt: AuthAttempt::default(),
            auth,
            binding: None,
            refresh_at: None,
            retry_at: None,
            failures: 0,
            events: VecDeque::new(),
        }
    }

    /// The binding in force, if registered.
    pub fn binding(&self) -> Option<&Binding> {
        self.binding.as_ref()
    }

    /// True when the last REGISTER succeeded (a failed refresh makes it false, though the
    /// [`binding`](Self::binding) may still run until its `expires_at`).
    pub fn is_registered(&self) -> bool {
        self.state == State::Registered
    }

    /// The Call-ID used for every REGISTER.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Sends the first REGISTER (or one at once, whatever the state, except after
    /// unregistering); after a [`RegistrationEvent::Rejected`] this starts over.
    pub fn register(&mut self, now: Instant, tl: &mut TransactionLayer) -> Result<()> {
        if matches!(self.state, State::Unregistering | State::Stopped) {
            return Err(Error::RegistrationState("unregistered"));
        }
        self.attempt = AuthAttempt::default();
        if self.state == State::Rejected {
            self.failures = 0;
        }
        self.send(now, tl, self.expires, State::Registering)
    }

    /// Removes our binding (Expires: 0) before shutting down.
    pub fn unregister(&mut self, now: Instant, tl: &mut TransactionLayer) -> Result<()> {
        if self.state == State::Stopped {
            return Err(Error::RegistrationState("already unregistered"));
        }
        self.refresh_at = None;
        self.retry_at = None;
        self.attempt = AuthAttempt::default();
        self.send(now, tl, 0, State::Unregistering)
    }

    fn build(&mut self, tl: &mut TransactionLayer, expires: u32) -> Request {
        self.cseq = self.cseq.wrapping_add(1);
        let mut req = Request::new(Method::Register, self.cfg.registrar.clone());
        let via =
            crate::dialog::via_value(&self.cfg.agent, self.cfg.peer.transport, &tl.new_branch());
        let h = &mut req.headers;
        h.push(HeaderName::Via, via);
        h.push(HeaderName::MaxForwards, "70");
        let mut from = self.cfg.aor.clone();
        from.params.set("tag", Some(&self.from_tag));
        h.push(HeaderName::From, from.to_string());
        h.push(HeaderName::To, self.cfg.aor.to_string());
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        h.push(HeaderName::Contact, format!("<{}>", self.cfg.agent.contact));
        h.push(HeaderName::Expires, expires.to_string());
        h.push(
            HeaderName::Allow,
            "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK, INFO",
        );
        h.push(HeaderName::Supported, "100rel, timer");
        h.push(HeaderName::UserAgent, self.cfg.agent.user_agent.clone());
        if let Some(a) = &mut self.auth {
            if a.has_credentials() {
                a.authorize(&mut req);
            }
        }
        req
    }

    fn send(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        expires: u32,
        state: State,
    ) -> Result<()> {
        let req = self.build(tl, expires);
        let tx = tl.send_request(now, req.clone(), self.cfg.peer)?;
        self.tx = Some(tx);
        self.request = Some(req);
        self.state = state;
        self.refresh_at = None;
        self.retry_at = None;
        Ok(())
    }

    /// Handles a transaction event; gives it back when it is not this registration's.
    pub fn handle_transaction_event(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        ev: TransactionEvent,
    ) -> Option<TransactionEvent> {
        let mine = |id: &TransactionId| self.tx == Some(*id);
        match ev {
            TransactionEvent::Response { id, response } if mine(&id) => {
                if response.status.is_final() {
                    self.on_final(now, tl, response);
                }
                None
            }
            TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id }
                if mine(&id) =>
            {
                self.tx = None;
                self.fail(now, None, None);
                None
            }
            TransactionEvent::Terminated { id } if mine(&id) => {
                self.tx = None;
                None
            }
            other => Some(other),
        }
    }

    fn on_final(&mut self, now: Instant, tl: &mut TransactionLayer, resp: Response) {
        let code = resp.status.as_u16();
        let unregistering = self.state == State::Unregistering;
        if resp.status.is_success() {
            self.on_success(now, &resp);
            return;
        }
        if matches!(code, 401 | 407) {
            if let Some(auth) = &mut self.auth {
                if auth.on_challenge(&resp, &mut self.attempt) {
                    let expires = if unregistering { 0 } else { self.expires };
                    let state = self.state;
                    if self.send(now, tl, expires, state).is_ok() {
                        return;
                    }
                }
            }
        }
        if code == 423 && !unregistering {
            if let Ok(Some(min)) = min_expires(&resp) {
                if min > self.expires {
                    self.expires = min;
                    if self.send(now, tl, min, State::Registering).is_ok() {
                        return;
                    }
                }
            }
        }
        let retry_after = resp
            .headers
            .retry_after()
            // A registrar asking for more than a day is capped at a day.
            .map(|s| Duration::from_secs(u64::from(s.min(24 * 3600))));
        if retry_after.is_none() && !retryable(resp.status) && !unregistering {
            self.reject(resp.status);
            return;
        }
        self.fail(now, Some(resp.status), retry_after);
    }

    fn reject(&mut self, code: StatusCode) {
        // Whatever the registrar held for us is gone or forbidden now.
        self.state = State::Rejected;
        self.binding = None;
        self.refresh_at = None;
        self.retry_at = None;
        self.attempt = AuthAttempt::default();
        self.events.push_back(RegistrationEvent::Rejected { code });
    }

    fn on_success(&mut self, now: Instant, resp: &Response) {
        if self.state == State::Unregistering {
            self.finish_unregister();
            return;
        }
        let h = &resp.headers;
        let ours = self.cfg.agent.contact.to_string();
        let contact_expires = h.contacts().ok().and_then(|cs| {
            cs.iter()
                .filter_map(|c| c.address())
                .find(|a| same_contact(&a.uri.to_string(), &ours))
                .and_then(|a| a.params.get("expires"))
                .and_then(|e| e.parse::<u32>().ok())
        });
        let expires = contact_expires
            .or(h.expires().ok().flatten())
            .unwrap_or(self.expires);
        let via = h.top_via().ok();
        let binding = Binding {
            contact: self.cfg.agent.contact.clone(),
            expires,
            expires_at: after(now, Duration::from_secs(u64::from(expires))),
            received: via.as_ref().and_then(|v| v.received().map(str::to_owned)),
            rport: via.as_ref().and_then(|v| v.rport().flatten()),
        };
        self.binding = Some(binding.clone());
        self.state = State::Registered;
        self.failures = 0;
        self.attempt = AuthAttempt::default();
        // A registrar granting 0 s (or a few) must not make us REGISTER in a tight loop.
        let delay = refresh_delay(expires).max(Duration::from_secs(5));
        self.refresh_at = Some(after(now, delay));
        self.events
            .push_back(RegistrationEvent::Registered(binding));
    }

    fn finish_unregister(&mut self) {
        self.state = State::Stopped;
        self.binding = None;
        self.refresh_at = None;
        self.retry_at = None;
        self.events.push_back(RegistrationEvent::Unregistered);
    }

    /// The delay before retry number `failures` (1-based).
    fn backoff(&mut self) -> Duration {
        let shift = self.failures.saturating_sub(1).min(20);
        let full = self
            .cfg
            .retry_base
            .saturating_mul(1 << shift)
            .min(self.cfg.retry_max);
        let half = full / 2;
        let ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(self.rng.range(0, ms))
    }

    fn fail(&mut self, now: Instant, code: Option<StatusCode>, retry_after: Option<Duration>) {
        if self.state == State::Unregistering {
            self.finish_unregister();
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let retry_in = retry_after.unwrap_or_else(|| self.backoff());
        if self.binding.as_ref().is_some_and(|b| b.expires_at <= now) {
            self.binding = None;
        }
        self.state = State::Waiting;
        self.attempt = AuthAttempt::default();
        self.retry_at = Some(after(now, retry_in));
        self.events
            .push_back(RegistrationEvent::Failed { code, retry_in });
    }

    /// Runs the refresh or retry that is due.
    pub fn handle_timeout(&mut self, now: Instant, tl: &mut TransactionLayer) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.refresh_at) || due(self.retry_at) {
            self.attempt = AuthAttempt::default();
            if self
                .send(now, tl, self.expires, State::Registering)
                .is_err()
            {
                self.fail(now, None, None);
            }
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.retry_at].into_iter().flatten().min()
    }
}

/// Min-Expires of a 423.
fn min_expires(resp: &Response) -> Result<Option<u32>> {
    resp.headers
        .single(&HeaderName::MinExpires)?
        .map(|v| {
            v.trim().parse::<u32>().map_err(|_| Error::Header {
                name: HeaderName::MinExpires,
                reason: "not delta-seconds",
            })
        })
        .transpose()
}

/// Contacts compare by URI; registrars may reorder parameters, so compare without them.
fn same_contact(a: &str, b: &str) -> bool {
    let base = |s: &str| s.split(';').next().unwrap_or("").to_ascii_lowercase();
    base(a) == base(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_schedule() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(3570));
        assert_eq!(refresh_delay(60), Duration::from_secs(30));
        assert_eq!(refresh_delay(40), Duration::from_secs(20));
        assert_eq!(refresh_delay(0), Duration::ZERO);
    }
}

//! A registrar for peers that register to us (RFC 3261 §10.3), sans-IO, with the NAT
//! binding table that tells where to send their calls.
//!
//! - REGISTERs are digest-authenticated (RFC 7616, 401 or 407 as configured) when a
//!   [`DigestServer`] is configured, and the authenticated user must be the address of
//!   record's user: one account cannot take over another's number.
//! - Expires per contact (its `expires` parameter, else the Expires header, else the
//!   default), 423 with Min-Expires below the minimum, capped at the maximum; `Expires: 0`
//!   removes a contact and `Contact: *` with `Expires: 0` removes them all. A request is
//!   applied whole or not at all (§10.3 step 7), and a Call-ID seen before must come with a
//!   higher CSeq (step 6), so a delayed retransmission cannot undo a later change.
//! - NAT: each binding keeps the address, port and transport the REGISTER came from (the
//!   peer the transport saw, which is what `received`/`rport` say), and [`Registrar::targets`]
//!   returns that as the next hop for calls to the AOR, with the registered Contact as
//!   Request-URI. Peers behind NAT register private Contacts; their pinhole is where the
//!   REGISTER came from, and over TCP that is the flow the REGISTER used.
//! - Bindings expire in [`Registrar::handle_timeout`]; [`RegistrarEvent`]s tell the
//!   application when a binding appears, moves or goes, so it can start and stop OPTIONS
//!   keep-alives ([`crate::probe`]) toward the peer.
//!
//! The shell offers every transaction event to
//! [`handle_transaction_event`](Registrar::handle_transaction_event) before the dialog layer,
//! which answers REGISTER with 405 itself.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::auth::{DigestServer, Verdict};
use crate::dialog::after;
use crate::msg::{
    check_request, Contact, HeaderName, Method, Request, Response, StatusCode, UasPolicy, Uri,
};
use crate::rng::Rng;
use crate::transaction::{Peer, TransactionEvent, TransactionLayer, Transport};

/// Settings of a [`Registrar`].
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Domains we keep bindings for (Request-URI and AOR host); empty accepts any.
    pub domains: Vec<String>,
    /// Verifies credentials; `None` accepts every REGISTER (trusted networks only).
    pub digest: Option<DigestServer>,
    /// User name to password.
    pub users: HashMap<String, String>,
    /// Challenge with 407 and Proxy-Authenticate instead of 401.
    pub proxy: bool,
    /// Shortest binding accepted, in seconds (shorter gets 423).
    pub min_expires: u32,
    /// Longest binding granted, in seconds (longer is cut to this).
    pub max_expires: u32,
    /// Binding length when the REGISTER gives none, in seconds.
    pub default_expires: u32,
    /// Most contacts one AOR may hold.
    pub max_contacts: usize,
    /// Our product name, in Server.
    pub server: String,
}

impl RegistrarConfig {
    /// 60 s to 3600 s bindings (3600 s by default), ten contacts per AOR, no authentication.
    pub fn new(server: impl Into<String>) -> Self {
        RegistrarConfig {
            domains: Vec::new(),
            digest: None,
            users: HashMap::new(),
            proxy: false,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
            server: server.into(),
        }
    }
}

/// One registered contact of an address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactBinding {
    /// The address of record (`sip:user@domain`, host in lower case).
    pub aor: String,
    /// The Contact URI as registered: the Request-URI of calls to the peer.
    pub contact: Uri,
    /// Where the REGISTER came from (source address, port, transport): the next hop.
    pub source: Peer,
    /// When the binding runs out.
    pub expires_at: Instant,
    /// The REGISTER's Call-ID.
    pub call_id: String,
    /// The REGISTER's CSeq number.
    pub cseq: u32,
    /// The peer's User-Agent, if it sent one.
    pub user_agent: Option<String>,
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnbindReason {
    /// The peer removed it (Expires 0, or `Contact: *`).
    Removed,
    /// It was not refreshed in time.
    Expired,
    /// Its TCP flow closed ([`Registrar::flow_closed`]).
    FlowClosed,
}

/// What the registrar tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum RegistrarEvent {
    /// A new binding, or one whose source address changed (the peer's NAT mapping moved).
    /// Refreshes from the same source say nothing.
    Bound(ContactBinding),
    /// A binding is gone.
    Unbound {
        /// The address of record.
        aor: String,
        /// The contact removed.
        contact: Uri,
        /// Where it had registered from.
        source: Peer,
        /// Why.
        reason: UnbindReason,
    },
}

/// Bindings of every address of record registered to us.
#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    rng: Rng,
    policy: UasPolicy,
    bindings: BTreeMap<String, Vec<ContactBinding>>,
    events: VecDeque<RegistrarEvent>,
}

/// Contacts compare by URI without parameters (RFC 3261 §10.3 step 7 uses §19.1.4, where
/// unknown parameters do not matter), host case-insensitively.
fn contact_key(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => format!(
            "{}:{}@{}:{}",
            if u.secure { "sips" } else { "sip" },
            u.user.as_deref().unwrap_or(""),
            u.host.canonical().to_ascii_lowercase(),
            u.port.unwrap_or(0)
        ),
        other => other.to_string(),
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::new(code).unwrap_or(StatusCode::BAD_REQUEST)
}

/// A change the REGISTER asks for, computed before anything is applied.
struct Update {
    contact: Uri,
    expires: u32,
}

impl Registrar {
    /// A registrar with no bindings; `seed` drives the To tags of its responses.
    pub fn new(cfg: RegistrarConfig, seed: u64) -> Self {
        let policy = UasPolicy {
            allow: None,
            accept: None,
            schemes: vec!["sip".into(), "sips".into()],
            // We support no REGISTER extensions (path, outbound, gruu): Require gets 420.
            supported: Vec::new(),
            reject_zero_max_forwards: false,
        };
        Registrar {
            cfg,
            rng: Rng::new(seed),
            policy,
            bindings: BTreeMap::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrarConfig {
        &self.cfg
    }

    /// The address-of-record key of a URI (`sip:user@host`), or `None` when it is not a
    /// SIP URI.
    pub fn aor_of(uri: &Uri) -> Option<String> {
        let Uri::Sip(u) = uri else {
            return None;
        };
        let scheme = if u.secure { "sips" } else { "sip" };
        Some(match &u.user {
            Some(user) => format!(
                "{scheme}:{user}@{}",
                u.host.canonical().to_ascii_lowercase()
            ),
            None => format!("{scheme}:{}", u.host.canonical().to_ascii_lowercase()),
        })
    }

    fn serves(&self, uri: &Uri) -> bool {
        let Uri::Sip(u) = uri else {
            return false;
        };
        let host = u.host.canonical();
        self.cfg.domains.is_empty()
            || self
                .cfg
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&host))
    }

    /// Live bindings of `aor` (any URI of it: `sip:+15550100@pbx.example`), newest first.
    pub fn lookup(&self, now: Instant, aor: &Uri) -> Vec<&ContactBinding> {
        let Some(key) = Self::aor_of(aor) else {
            return Vec::new();
        };
        let mut list: Vec<&ContactBinding> = self
            .bindings
            .get(&key)
            .map(|v| v.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default();
        list.sort_by_key(|b| std::cmp::Reverse(b.expires_at));
        list
    }

    /// Where calls to `aor` go, newest binding first: the Contact as Request-URI and the
    /// REGISTER's source as the next hop (through the peer's NAT).
    pub fn targets(&self, now: Instant, aor: &Uri) -> Vec<(Uri, Peer)> {
        self.lookup(now, aor)
            .into_iter()
            .map(|b| (b.contact.clone(), b.source))
            .collect()
    }

    /// Every binding held.
    pub fn bindings(&self) -> impl Iterator<Item = &ContactBinding> {
        self.bindings.values().flatten()
    }

    /// Answers a REGISTER that arrived from `source`, updating the bindings.
    pub fn handle_register(&mut self, now: Instant, req: &Request, source: Peer) -> Response {
        let mut resp = self.process(now, req, source);
        resp.set_to_tag(&self.rng.hex(5));
        resp.headers
            .push(HeaderName::Server, self.cfg.server.clone());
        resp
    }

    fn process(&mut self, now: Instant, req: &Request, source: Peer) -> Response {
        if req.method != Method::Register {
            return Response::for_request(req, StatusCode::METHOD_NOT_ALLOWED);
        }
        if let Err(rej) = check_request(req, &self.policy) {
            return rej.response(req, None);
        }
        // Step 1: only our domains.
        if !self.serves(&req.uri) {
            return Response::for_request(req, status(404)).with_reason("Domain Not Served");
        }
        // Step 5, checked before step 3 so that a foreign domain is not even challenged.
        let Some((aor, aor_user)) = req.headers.to().ok().and_then(|to| {
            let user = to.uri.as_sip().and_then(|u| u.user.clone());
            Some((Self::aor_of(&to.uri)?, user))
        }) else {
            return Response::for_request(req, status(404));
        };
        if !req.headers.to().is_ok_and(|t| self.serves(&t.uri)) {
            return Response::for_request(req, status(404)).with_reason("Domain Not Served");
        }
        // Steps 3 and 4: who is asking, and may they change this AOR.
        if let Some(digest) = &mut self.cfg.digest {
            let users = &self.cfg.users;
            let proxy = self.cfg.proxy;
            match digest.verify(now, req, proxy, |u| users.get(u).cloned()) {
                Verdict::Authenticated { username } => {
                    if aor_user.as_deref() != Some(username.as_str()) {
                        return Response::for_request(req, status(403))
                            .with_reason("Forbidden (not your address of record)");
                    }
                }
                Verdict::Challenge { stale } => {
                    return digest.challenge_response(now, req, stale, proxy);
                }
                Verdict::Forbidden(why) => {
                    return Response::for_request(req, status(403))
                        .with_reason(format!("Forbidden ({why})"));
                }
            }
        }
        let call_id = req.headers.call_id().unwrap_or_default().to_owned();
        let cseq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let contacts = match req.headers.contacts() {
            Ok(c) => c,
            Err(_) => return Response::for_request(req, StatusCode::BAD_REQUEST),
        };
        let header_expires = req.headers.expires().ok().flatten();
        if contacts.contains(&Contact::Wildcard) {
            // Step 6: `*` only alone and only with Expires: 0.
            if contacts.len() != 1 || header_expires != Some(0) {
                return Response::for_request(req, StatusCode::BAD_REQUEST)
                    .with_reason("Contact: * needs Expires: 0 and no other Contact");
            }
            return self.remove_all(now, req, &aor, &call_id, cseq);
        }
        let mut updates = Vec::with_capacity(contacts.len());
        for c in contacts.iter().filter_map(Contact::address) {
            let asked = c
                .params
                .get("expires")
                .and_then(|e| e.trim().parse::<u64>().ok())
                .map(|e| u32::try_from(e).unwrap_or(u32::MAX))
                .or(header_expires)
                .unwrap_or(self.cfg.default_expires);
            if asked != 0 && asked < self.cfg.min_expires {
                let mut r = Response::for_request(req, status(423));
                r.headers
                    .push(HeaderName::MinExpires, self.cfg.min_expires.to_string());
                return r;
            }
            updates.push(Update {
                contact: c.uri.clone(),
                expires: asked.min(self.cfg.max_expires),
            });
        }
        if let Err(r) = self.apply(now, req, &aor, updates, source, &call_id, cseq) {
            return r;
        }
        self.ok(now, req, &aor)
    }

    fn remove_all(
        &mut self,
        now: Instant,
        req: &Request,
        aor: &str,
        call_id: &str,
        cseq: u32,
    ) -> Response {
        let list = self.bindings.get(aor).map(Vec::as_slice).unwrap_or(&[]);
        if list.iter().any(|b| b.call_id == call_id && b.cseq >= cseq) {
            return Response::for_request(req, status(500)).with_reason("Out of order");
        }
        for b in self.bindings.remove(aor).unwrap_or_default() {
            self.unbound(b, UnbindReason::Removed);
        }
        self.ok(now, req, aor)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        now: Instant,
        req: &Request,
        aor: &str,
        updates: Vec<Update>,
        source: Peer,
        call_id: &str,
        cseq: u32,
    ) -> Result<(), Response> {
        let mut list: Vec<ContactBinding> = self
            .bindings
            .get(aor)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|b| b.expires_at > now)
            .collect();
        let mut gone = Vec::new();
        let mut bound = Vec::new();
        for u in updates {
            let key = contact_key(&u.contact);
            let existing = list.iter().position(|b| contact_key(&b.contact) == key);
            if let Some(i) = existing {
                let b = &list[i];
                if b.call_id == call_id && b.cseq >= cseq {
                    return Err(Response::for_request(req, status(500)).with_reason("Out of order"));
                }
            }
            if u.expires == 0 {
                if let Some(i) = existing {
                    gone.push(list.remove(i));
                }
                continue;
            }
            let b = ContactBinding {
                aor: aor.to_owned(),
                contact: u.contact,
                source,
                expires_at: after(now, Duration::from_secs(u64::from(u.expires))),
                call_id: call_id.to_owned(),
                cseq,
                user_agent: req.headers.get(&HeaderName::UserAgent).map(str::to_owned),
            };
            match existing {
                Some(i) => {
                    if list[i].source != source || list[i].contact != b.contact {
                        bound.push(b.clone());
                    }
                    list[i] = b;
                }
                None => {
                    bound.push(b.clone());
                    list.push(b);
                }
            }
        }
        if list.len() > self.cfg.max_contacts {
            return Err(Response::for_request(req, status(403))
                .with_reason("Forbidden (too many contacts)"));
        }
        // Whatever had lapsed unseen goes now, with the right reason.
        let expired: Vec<ContactBinding> = self
            .bindings
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at <= now).cloned().collect())
            .unwrap_or_default();
        for b in expired {
            self.unbound(b, UnbindReason::Expired);
        }
        for b in gone {
            self.unbound(b, UnbindReason::Removed);
        }
        for b in bound {
            self.events.push_back(RegistrarEvent::Bound(b));
        }
        if list.is_empty() {
            self.bindings.remove(aor);
        } else {
            self.bindings.insert(aor.to_owned(), list);
        }
        Ok(())
    }

    /// 200 listing every current binding of `aor` with its remaining time (§10.3 step 8).
    fn ok(&self, now: Instant, req: &Request, aor: &str) -> Response {
        let mut r = Response::for_request(req, StatusCode::OK);
        for b in self.bindings.get(aor).map(Vec::as_slice).unwrap_or(&[]) {
            let left = b.expires_at.saturating_duration_since(now).as_secs();
            r.headers.push(
                HeaderName::Contact,
                format!("<{}>;expires={left}", b.contact),
            );
        }
        r
    }

    fn unbound(&mut self, b: ContactBinding, reason: UnbindReason) {
        self.events.push_back(RegistrarEvent::Unbound {
            aor: b.aor,
            contact: b.contact,
            source: b.source,
            reason,
        });
    }

    /// A TCP (or TLS) connection closed: bindings registered over it cannot be reached any
    /// more (RFC 5626 §5.3 — a flow is the only way back through the peer's NAT).
    pub fn flow_closed(&mut self, flow: Peer) {
        if flow.transport == Transport::Udp {
            return;
        }
        let mut gone = Vec::new();
        for list in self.bindings.values_mut() {
            let (dead, live): (Vec<_>, Vec<_>) = list.drain(..).partition(|b| b.source == flow);
            *list = live;
            gone.extend(dead);
        }
        self.bindings.retain(|_, v| !v.is_empty());
        for b in gone {
            self.unbound(b, UnbindReason::FlowClosed);
        }
    }

    /// Takes REGISTER requests and answers them; gives every other event back.
    pub fn handle_transaction_event(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        ev: TransactionEvent,
    ) -> Option<TransactionEvent> {
        match ev {
            TransactionEvent::Request {
                id, request, peer, ..
            } if request.method == Method::Register => {
                let resp = self.handle_register(now, &request, peer);
                let _ = tl.send_response(now, id, resp);
                None
            }
            other => Some(other),
        }
    }

    /// Drops the bindings that have run out.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for list in self.bindings.values_mut() {
            let (dead, live): (Vec<_>, Vec<_>) = list.drain(..).partition(|b| b.expires_at <= now);
            *list = live;
            gone.extend(dead);
        }
        self.bindings.retain(|_, v| !v.is_empty());
        for b in gone {
            self.unbound(b, UnbindReason::Expired);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings().map(|b| b.expires_at).min()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }
}

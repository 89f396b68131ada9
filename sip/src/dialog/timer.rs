//! Session timers (RFC 4028) and the other clocks of a call: the refresher sends a refresh
//! at half the interval (§7.4, §9), the other side sends BYE when none arrived by the
//! interval minus min(32 s, interval/3) (§10); the RFC 3261 §14.1 glare back-off; reliable
//! 18x retransmission; how long an ended call lingers.

use std::time::{Duration, Instant};

use super::call::{after, Call, Ctx, OfferKind, Phase, SessionTimer};
use super::types::{DialogEvent, EndReason, RefreshMethod, LINGER};
use crate::msg::{HeaderName, Method, Refresher, Request, Response};

fn has_tag(tags: &[&str], tag: &str) -> bool {
    tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

fn refresher_str(r: Refresher) -> &'static str {
    match r {
        Refresher::Uac => "uac",
        Refresher::Uas => "uas",
    }
}

impl Call {
    /// (Re)starts the session timer for `interval` seconds.
    pub(crate) fn start_timer(&mut self, cx: &mut Ctx<'_>, interval: u32, we_refresh: bool) {
        let interval = interval.max(1);
        let guard = 32.min(interval / 3);
        let now = cx.now;
        self.timer = Some(SessionTimer {
            interval,
            we_refresh,
            refresh_at: we_refresh
                .then(|| after(now, Duration::from_secs(u64::from(interval / 2)))),
            expires_at: after(now, Duration::from_secs(u64::from(interval - guard))),
        });
    }

    /// Session-Expires and Min-SE for a request of ours that may refresh the session.
    pub(crate) fn add_timer_headers(&self, cx: &Ctx<'_>, req: &mut Request) {
        let st = cx.cfg.session_timer;
        let value = match self.timer {
            // We keep the role we had: as the sender of this request we are its UAC.
            Some(t) => Some(format!(
                "{};refresher={}",
                t.interval,
                if t.we_refresh { "uac" } else { "uas" }
            )),
            None => st.session_expires.map(|se| se.max(st.min_se).to_string()),
        };
        if let Some(v) = value {
            req.headers.set(HeaderName::SessionExpires, v);
            req.headers.set(HeaderName::MinSe, st.min_se.to_string());
        }
    }

    /// For a 2xx of ours to INVITE or UPDATE `req`: choose interval and refresher, put them
    /// in the response, and start our timer (RFC 4028 §9).
    pub(crate) fn apply_timer_uas(&mut self, cx: &mut Ctx<'_>, req: &Request, resp: &mut Response) {
        let h = &req.headers;
        let supports = has_tag(&h.supported(), "timer") || has_tag(&h.require(), "timer");
        self.peer_supports_timer |= supports;
        let st = cx.cfg.session_timer;
        let (interval, mut refresher) = match h.session_expires().ok().flatten() {
            Some(se) => (
                se.delta.max(st.min_se),
                se.refresher.unwrap_or(if supports {
                    Refresher::Uac
                } else {
                    Refresher::Uas
                }),
            ),
            None => match (self.timer, st.session_expires) {
                (Some(t), _) => (
                    t.interval,
                    if t.we_refresh {
                        Refresher::Uas
                    } else {
                        Refresher::Uac
                    },
                ),
                (None, Some(se)) => (
                    se.max(st.min_se),
                    if supports {
                        Refresher::Uac
                    } else {
                        Refresher::Uas
                    },
                ),
                (None, None) => return,
            },
        };
        if refresher == Refresher::Uac && !supports {
            // A UAC that does not know the extension cannot be the refresher.
            refresher = Refresher::Uas;
        }
        resp.headers.set(
            HeaderName::SessionExpires,
            format!("{interval};refresher={}", refresher_str(refresher)),
        );
        if supports {
            resp.headers.push(HeaderName::Require, "timer");
        }
        self.start_timer(cx, interval, refresher == Refresher::Uas);
    }

    /// From a 2xx to our INVITE or UPDATE: the session timer it sets, or none (RFC 4028
    /// §7.2: a 2xx without Session-Expires means no expiration).
    pub(crate) fn apply_timer_uac(&mut self, cx: &mut Ctx<'_>, resp: &Response) {
        match resp.headers.session_expires() {
            Ok(Some(se)) => {
                let r = se.refresher.unwrap_or(Refresher::Uac);
                self.start_timer(cx, se.delta, r == Refresher::Uac);
            }
            _ => self.timer = None,
        }
    }

    /// True while an offer/answer exchange (or the initial INVITE) is unfinished.
    pub(crate) fn offer_busy(&self) -> bool {
        self.out_offer.is_some()
            || self.in_offer.is_some()
            || self.wait_ack.is_some()
            || self.unanswered()
    }

    /// The RFC 3261 §14.1 back-off after a 491: 2.1–4 s when we own the Call-ID, else
    /// 0–2 s, in units of 10 ms.
    pub(crate) fn glare_delay(&self, cx: &mut Ctx<'_>) -> Duration {
        let units = if self.owns_call_id() {
            cx.rng.range(210, 400)
        } else {
            cx.rng.range(0, 200)
        };
        Duration::from_millis(units * 10)
    }

    /// The next instant this call needs `on_timeout`.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let rel = self
            .uas
            .as_ref()
            .and_then(|u| u.rel.as_ref())
            .map(|r| r.next.min(r.deadline));
        let timer = self
            .timer
            .map(|t| t.refresh_at.map_or(t.expires_at, |r| r.min(t.expires_at)));
        let linger = self.ended_at.map(|t| after(t, LINGER));
        [rel, timer, self.glare.map(|g| g.0), linger]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs whatever is due. Returns false once the call may be forgotten.
    pub(crate) fn on_timeout(&mut self, cx: &mut Ctx<'_>) -> bool {
        let now = cx.now;
        if let Some(t) = self.ended_at {
            return now < after(t, LINGER);
        }
        self.on_reliable_timer(cx);
        if let Some((at, kind)) = self.glare {
            if now >= at && self.phase == Phase::Confirmed {
                if self.offer_busy() {
                    let d = self.glare_delay(cx);
                    self.glare = Some((after(now, d), kind));
                } else {
                    self.glare = None;
                    let method = self.refresh_method(cx, kind);
                    if self.send_offer(cx, kind, method).is_err() {
                        self.hang_up(cx, EndReason::Error("could not send the re-INVITE"));
                    }
                }
            }
        }
        if let Some(t) = self.timer {
            if now >= t.expires_at && self.phase != Phase::Ended {
                self.hang_up(cx, EndReason::SessionExpired);
            } else if t.refresh_at.is_some_and(|r| now >= r) {
                if let Some(timer) = &mut self.timer {
                    timer.refresh_at = None;
                }
                // An exchange in progress refreshes the session when it completes.
                if !self.offer_busy() && self.glare.is_none() {
                    let method = self.refresh_method(cx, OfferKind::Refresh);
                    let _ = self.send_offer(cx, OfferKind::Refresh, method);
                }
            }
        }
        true
    }

    /// UPDATE for a refresh when configured and the peer allows it; INVITE otherwise.
    fn refresh_method(&self, cx: &Ctx<'_>, kind: OfferKind) -> Method {
        let update = kind == OfferKind::Refresh
            && cx.cfg.session_timer.refresh == RefreshMethod::Update
            && self.peer_allows_update;
        if update {
            Method::Update
        } else {
            Method::Invite
        }
    }

    /// Reports a completed refresh, `ours` when we sent it.
    pub(crate) fn refreshed(&self, cx: &mut Ctx<'_>, ours: bool) {
        if let Some(t) = self.timer {
            cx.event(DialogEvent::Refreshed {
                id: self.id,
                interval: t.interval,
                ours,
            });
        }
    }
}

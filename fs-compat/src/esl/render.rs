//! Engine events as FreeSWITCH events.
//!
//! | engine | FreeSWITCH |
//! |---|---|
//! | `CallCreated` | `CHANNEL_CREATE`, `CHANNEL_CALLSTATE` (RINGING) |
//! | `CallAnswered` | `CHANNEL_ANSWER`, `CHANNEL_CALLSTATE` (ACTIVE) |
//! | `FaxNegotiated` | CUSTOM `spandsp::txfaxnegociateresult` / `rxfax…` |
//! | `FaxPage` | CUSTOM `spandsp::txfaxpageresult` / `rxfax…` |
//! | `CallEnded` | CUSTOM `spandsp::txfaxresult` / `rxfax…` (when T.30 ran), `CHANNEL_CALLSTATE` (HANGUP), `CHANNEL_HANGUP`, `CHANNEL_HANGUP_COMPLETE` |
//!
//! Header order is FreeSWITCH's: the common headers `switch_event_prep_for_delivery` adds
//! (`Event-Name` … `Event-Sequence`), `Event-Subclass`, then the channel's data
//! (`switch_channel_event_set_data`: state, caller profile, `variable_*`), then the
//! event's own headers (mod_spandsp's `fax-*`). As mod_spandsp does, the fax values are also
//! set as channel variables before each fax event, so later events carry them.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Local, Utc};
use engine::call::{CallReport, FaxDirection, PageReport};
use engine::events::{EngineEvent, Stamped};
use engine::policy::overrides::parse_bool;
use engine::queue::causes::{q850_name, sip_status_cause};

use super::channels::{CallState, Channel, Channels};
use super::event::EslEvent;

/// What every event says about the switch that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `Core-UUID`: one per server run.
    pub core_uuid: String,
    /// `FreeSWITCH-Hostname`.
    pub hostname: String,
    /// `FreeSWITCH-Switchname`.
    pub switchname: String,
    /// `FreeSWITCH-IPv4`.
    pub ipv4: String,
    /// `FreeSWITCH-IPv6`.
    pub ipv6: String,
}

/// Builds events; shared by the render task and the connections (`BACKGROUND_JOB`).
#[derive(Debug)]
pub struct Renderer {
    identity: Identity,
    sequence: AtomicU64,
}

impl Renderer {
    /// A renderer for this switch identity.
    pub fn new(identity: Identity) -> Self {
        Renderer {
            identity,
            sequence: AtomicU64::new(0),
        }
    }

    /// The switch identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// An event with its common headers (and `Event-Subclass` for a CUSTOM one).
    pub fn base(
        &self,
        name: &str,
        subclass: Option<&str>,
        at: DateTime<Utc>,
        function: &str,
    ) -> EslEvent {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let id = &self.identity;
        let mut e = EslEvent::new();
        e.push("Event-Name", name)
            .push("Core-UUID", id.core_uuid.as_str())
            .push("FreeSWITCH-Hostname", id.hostname.as_str())
            .push("FreeSWITCH-Switchname", id.switchname.as_str())
            .push("FreeSWITCH-IPv4", id.ipv4.as_str())
            .push("FreeSWITCH-IPv6", id.ipv6.as_str())
            .push(
                "Event-Date-Local",
                at.with_timezone(&Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            )
            .push(
                "Event-Date-GMT",
                at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            )
            .push("Event-Date-Timestamp", micros(at).to_string())
            .push("Event-Calling-File", "faxserver")
            .push("Event-Calling-Function", function)
            .push("Event-Calling-Line-Number", "0")
            .push("Event-Sequence", seq.to_string());
        if let Some(subclass) = subclass {
            e.push("Event-Subclass", subclass);
        }
        e
    }

    /// The `BACKGROUND_JOB` event of a finished `bgapi`.
    pub fn background_job(
        &self,
        job_uuid: &str,
        command: &str,
        arg: Option<&str>,
        reply: &str,
        at: DateTime<Utc>,
    ) -> EslEvent {
        let mut e = self.base("BACKGROUND_JOB", None, at, "api_exec");
        e.push("Job-UUID", job_uuid).push("Job-Command", command);
        if let Some(arg) = arg {
            e.push("Job-Command-Arg", arg);
        }
        e.set_body(reply);
        e
    }

    /// The FreeSWITCH events for one engine event, updating `channels` on the way.
    pub fn render(&self, stamped: &Stamped, channels: &Channels) -> Vec<EslEvent> {
        let at = stamped.at;
        match &stamped.event {
            EngineEvent::CallCreated { call } => {
                let (ch, created) = channels.open(call, at);
                let mut out = Vec::new();
                if created {
                    out.push(self.channel_event("CHANNEL_CREATE", &ch, at, "call_created"));
                }
                let ch = channels.update(call, at, |c| c.state = CallState::Ringing);
                out.push(self.callstate(&ch, CallState::Down, at));
                out
            }
            EngineEvent::CallAnswered { call } => {
                let before = channels.open(call, at).0.state;
                let ch = channels.update(call, at, |c| {
                    c.answered = Some(at);
                    c.state = CallState::Active;
                });
                vec![
                    self.channel_event("CHANNEL_ANSWER", &ch, at, "call_answered"),
                    self.callstate(&ch, before, at),
                ]
            }
            EngineEvent::FaxNegotiated {
                call,
                bit_rate,
                ecm,
                remote_ident,
            } => {
                let ch = channels.update(call, at, |c| {
                    let local = c.variable("fax_ident").unwrap_or_default().to_owned();
                    c.set_variable("fax_transfer_rate", bit_rate.to_string());
                    c.set_variable("fax_ecm_used", on_off(*ecm));
                    c.set_variable("fax_local_station_id", local);
                    c.set_variable("fax_remote_station_id", remote_ident.as_str());
                });
                let mut e = self.fax_event(&ch, "negociateresult", at);
                e.push("uuid", ch.uuid.as_str())
                    .push("fax-transfer-rate", bit_rate.to_string())
                    .push("fax-ecm-used", on_off(*ecm))
                    .push(
                        "fax-local-station-id",
                        ch.variable("fax_local_station_id").unwrap_or_default(),
                    )
                    .push("fax-remote-station-id", remote_ident.as_str())
                    .push("fax-remote-country", "")
                    .push("fax-remote-vendor", "")
                    .push("fax-remote-model", "");
                vec![e]
            }
            EngineEvent::FaxPage { call, page } => {
                let ch = channels.update(call, at, |c| page_variables(c, page));
                let mut e = self.fax_event(&ch, "pageresult", at);
                let resolution = resolution_ppm(&page.resolution);
                let size = format!("{}x{}", page.width, page.rows);
                e.push("uuid", ch.uuid.as_str())
                    .push("fax-document-transferred-pages", page.page.to_string())
                    .push("fax-image-resolution", resolution.as_str())
                    .push("fax-file-image-resolution", resolution.as_str())
                    .push("fax-image-size", "0")
                    .push("fax-image-pixel-size", size.as_str())
                    .push("fax-file-image-pixel-size", size.as_str())
                    .push("fax-bad-rows", page.bad_rows.to_string())
                    .push("fax-longest-bad-row-run", "0")
                    .push("fax-transfer-rate", page.bit_rate.to_string())
                    .push("fax-ecm-used", on_off(page.ecm))
                    .push("fax-media", page.media.as_str());
                vec![e]
            }
            EngineEvent::CallEnded { call, report } => self.call_ended(call, report, at, channels),
            EngineEvent::JobDelivered { job_uuid, .. }
            | EngineEvent::JobFailed { job_uuid, .. } => {
                channels.forget_origination(job_uuid);
                Vec::new()
            }
            EngineEvent::JobQueued { .. }
            | EngineEvent::FaxReceived { .. }
            | EngineEvent::CallMedia { .. } => Vec::new(),
        }
    }

    fn call_ended(
        &self,
        call: &engine::events::CallInfo,
        report: &CallReport,
        at: DateTime<Utc>,
        channels: &Channels,
    ) -> Vec<EslEvent> {
        let cause = hangup_cause(report);
        let before = channels.open(call, at).0.state;
        let mut out = Vec::new();
        if let Some(fax) = &report.fax {
            let ch = channels.update(call, at, |c| {
                let local = c.variable("fax_ident").unwrap_or_default().to_owned();
                let success = if fax.code == 0 { "1" } else { "0" };
                c.set_variable("fax_success", success);
                c.set_variable("fax_result_code", fax.code.to_string());
                c.set_variable("fax_result_text", fax.code_text.as_str());
                c.set_variable("fax_ecm_used", on_off(fax.ecm));
                c.set_variable("fax_local_station_id", local);
                c.set_variable("fax_remote_station_id", fax.remote_ident.as_str());
                c.set_variable("fax_document_transferred_pages", fax.pages.to_string());
                c.set_variable("fax_document_total_pages", fax.pages_total.to_string());
                c.set_variable("fax_image_resolution", resolution_ppm(&fax.resolution));
                c.set_variable("fax_image_size", "0");
                c.set_variable("fax_bad_rows", fax.bad_rows.to_string());
                c.set_variable("fax_transfer_rate", fax.bit_rate.to_string());
            });
            let mut e = self.fax_event(&ch, "result", at);
            e.push("fax-success", if fax.code == 0 { "1" } else { "0" })
                .push("fax-result-code", fax.code.to_string())
                .push("fax-result-text", fax.code_text.as_str())
                .push("fax-document-transferred-pages", fax.pages.to_string())
                .push("fax-document-total-pages", fax.pages_total.to_string())
                .push("fax-image-resolution", resolution_ppm(&fax.resolution))
                .push("fax-image-size", "0")
                .push("fax-bad-rows", fax.bad_rows.to_string())
                .push(
                    "fax-longest-bad-row-run",
                    fax.longest_bad_row_run.to_string(),
                )
                .push("fax-transfer-rate", fax.bit_rate.to_string())
                .push("fax-ecm-used", on_off(fax.ecm))
                .push(
                    "fax-local-station-id",
                    ch.variable("fax_local_station_id").unwrap_or_default(),
                )
                .push("fax-remote-station-id", fax.remote_ident.as_str());
            out.push(e);
        }
        let ch = channels.update(call, at, |c| {
            c.state = CallState::Hangup;
            c.hangup = Some(at);
            c.set_variable("hangup_cause", cause);
            let seconds = |from: DateTime<Utc>| (at - from).num_seconds().max(0).to_string();
            let duration = seconds(c.created);
            let billsec = c.answered.map_or_else(|| "0".to_owned(), seconds);
            c.set_variable("duration", duration);
            c.set_variable("billsec", billsec);
        });
        out.push(self.callstate(&ch, before, at));
        out.push(self.channel_event("CHANNEL_HANGUP", &ch, at, "call_ended"));
        out.push(self.channel_event("CHANNEL_HANGUP_COMPLETE", &ch, at, "call_ended"));
        channels.close(&call.call_uuid);
        out
    }

    fn channel_event(
        &self,
        name: &str,
        ch: &Channel,
        at: DateTime<Utc>,
        function: &str,
    ) -> EslEvent {
        let mut e = self.base(name, None, at, function);
        channel_data(&mut e, ch, name, true);
        e
    }

    fn callstate(&self, ch: &Channel, from: CallState, at: DateTime<Utc>) -> EslEvent {
        let mut e = self.base("CHANNEL_CALLSTATE", None, at, "callstate");
        e.push("Original-Channel-Call-State", from.name())
            .push("Channel-Call-State-Number", ch.state.number().to_string());
        // FreeSWITCH leaves variables out of CHANNEL_CALLSTATE unless verbose_events is on.
        channel_data(&mut e, ch, "CHANNEL_CALLSTATE", false);
        e
    }

    fn fax_event(&self, ch: &Channel, what: &str, at: DateTime<Utc>) -> EslEvent {
        let side = match ch.call.direction {
            FaxDirection::Send => "tx",
            FaxDirection::Receive => "rx",
        };
        let subclass = format!("spandsp::{side}fax{what}");
        let mut e = self.base("CUSTOM", Some(&subclass), at, "fax");
        channel_data(&mut e, ch, "CUSTOM", true);
        e
    }
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn page_variables(c: &mut Channel, page: &PageReport) {
    let resolution = resolution_ppm(&page.resolution);
    let size = format!("{}x{}", page.width, page.rows);
    c.set_variable("fax_image_resolution", resolution.as_str());
    c.set_variable("fax_file_image_resolution", resolution);
    c.set_variable("fax_image_pixel_size", size.as_str());
    c.set_variable("fax_file_image_pixel_size", size);
    c.set_variable("fax_bad_rows", page.bad_rows.to_string());
    c.set_variable("fax_document_transferred_pages", page.page.to_string());
}

/// FreeSWITCH writes resolutions as pixels per metre, `<x>x<y>`; the engine names them
/// (`standard`, `fine`, `superfine`, `<x>x<y> dpi`).
pub fn resolution_ppm(name: &str) -> String {
    match name {
        "standard" => "8031x3850".to_owned(),
        "fine" => "8031x7700".to_owned(),
        "superfine" => "8031x15400".to_owned(),
        other => {
            let dpi = other.trim_end_matches(" dpi");
            match dpi.split_once('x').and_then(|(x, y)| {
                Some((x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?))
            }) {
                Some((x, y)) => format!(
                    "{}x{}",
                    (x / 0.0254).round() as i64,
                    (y / 0.0254).round() as i64
                ),
                None => other.to_owned(),
            }
        }
    }
}

/// The hang-up cause FreeSWITCH would have reported for this call.
pub fn hangup_cause(report: &CallReport) -> &'static str {
    if let Some(name) = report
        .q850_cause
        .and_then(|c| u8::try_from(c).ok())
        .and_then(q850_name)
    {
        return name;
    }
    if report.answered {
        return "NORMAL_CLEARING";
    }
    if report.ring_timeout {
        return "NO_ANSWER";
    }
    if report.transport_timeout {
        return "RECOVERY_ON_TIMER_EXPIRE";
    }
    report
        .sip_status
        .map_or("NORMAL_TEMPORARY_FAILURE", sip_status_cause)
}

/// `switch_channel_event_set_data`: the channel's state, its caller profile and (for the
/// events FreeSWITCH extends) its variables.
fn channel_data(e: &mut EslEvent, ch: &Channel, event_name: &str, with_variables: bool) {
    let (channel_state, state_number) = match (event_name, ch.state) {
        ("CHANNEL_CREATE", _) => ("CS_INIT", "1"),
        ("CHANNEL_HANGUP_COMPLETE", _) => ("CS_REPORTING", "11"),
        (_, CallState::Hangup) => ("CS_HANGUP", "10"),
        (_, CallState::Down) => ("CS_INIT", "1"),
        _ => ("CS_EXECUTE", "4"),
    };
    let answer_state = match ch.state {
        CallState::Hangup => "hangup",
        CallState::Active => "answered",
        _ => "ringing",
    };
    let name = ch.name();
    let direction = ch.direction();
    let caller_name = ch.caller_name();
    e.push("Channel-State", channel_state)
        .push("Channel-Call-State", ch.state.name())
        .push("Channel-State-Number", state_number)
        .push("Channel-Name", name.as_str())
        .push("Unique-ID", ch.uuid.as_str())
        .push("Call-Direction", direction)
        .push("Presence-Call-Direction", direction)
        .push(
            "Channel-HIT-Dialplan",
            if direction == "inbound" {
                "true"
            } else {
                "false"
            },
        )
        .push("Channel-Call-UUID", ch.uuid.as_str())
        .push("Answer-State", answer_state);
    if let Some(cause) = ch.variable("hangup_cause") {
        e.push("Hangup-Cause", cause);
    }
    let time = |t: Option<DateTime<Utc>>| t.map_or(0, micros).to_string();
    e.push("Caller-Direction", direction)
        .push("Caller-Logical-Direction", direction)
        .push("Caller-Username", ch.call.caller.as_str())
        .push("Caller-Dialplan", "XML")
        .push("Caller-Caller-ID-Name", caller_name.as_str())
        .push("Caller-Caller-ID-Number", ch.call.caller.as_str())
        .push("Caller-Orig-Caller-ID-Name", caller_name.as_str())
        .push("Caller-Orig-Caller-ID-Number", ch.call.caller.as_str())
        .push("Caller-Network-Addr", "")
        .push("Caller-ANI", ch.call.caller.as_str())
        .push("Caller-Destination-Number", ch.call.callee.as_str())
        .push("Caller-Unique-ID", ch.uuid.as_str())
        .push("Caller-Source", "mod_sofia")
        .push("Caller-Context", "public")
        .push("Caller-Channel-Name", name.as_str())
        .push("Caller-Profile-Index", "1")
        .push("Caller-Profile-Created-Time", time(Some(ch.created)))
        .push("Caller-Channel-Created-Time", time(Some(ch.created)))
        .push("Caller-Channel-Answered-Time", time(ch.answered))
        .push("Caller-Channel-Progress-Time", "0")
        .push("Caller-Channel-Progress-Media-Time", "0")
        .push("Caller-Channel-Hangup-Time", time(ch.hangup))
        .push("Caller-Channel-Transfer-Time", "0");
    if !with_variables {
        return;
    }
    let mut vars: Vec<(String, String)> = vec![
        ("direction".into(), direction.into()),
        ("uuid".into(), ch.uuid.clone()),
        ("call_uuid".into(), ch.uuid.clone()),
        ("sip_call_id".into(), ch.call.sip_call_id.clone()),
        ("sip_from_user".into(), ch.call.caller.clone()),
        ("sip_to_user".into(), ch.call.callee.clone()),
    ];
    if let Some(gw) = &ch.call.gateway {
        vars.push(("sip_gateway_name".into(), gw.clone()));
        vars.push(("sip_gateway".into(), gw.clone()));
    }
    if let Some(job) = &ch.call.job_uuid {
        vars.push(("faxserver_job_uuid".into(), job.clone()));
    }
    if let Some(tenant) = ch.call.tenant_id {
        vars.push(("faxserver_tenant_id".into(), tenant.to_string()));
    }
    // mod_spandsp sets these from the options it was started with ("1"/"0").
    if let Some(ecm) = ch.variable("fax_use_ecm").and_then(parse_bool) {
        vars.push((
            "fax_ecm_requested".into(),
            if ecm { "1" } else { "0" }.into(),
        ));
    }
    if let Some(v17) = ch.variable("fax_disable_v17").and_then(parse_bool) {
        vars.push((
            "fax_v17_disabled".into(),
            if v17 { "1" } else { "0" }.into(),
        ));
    }
    for (n, v) in &ch.variables {
        if !vars.iter().any(|(k, _)| k.eq_ignore_ascii_case(n)) {
            vars.push((n.clone(), v.clone()));
        }
    }
    for (n, v) in vars {
        e.push(format!("variable_{n}"), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_in_pixels_per_metre() {
        assert_eq!(resolution_ppm("fine"), "8031x7700");
        assert_eq!(resolution_ppm("300x300 dpi"), "11811x11811");
        assert_eq!(resolution_ppm("odd"), "odd");
    }

    #[test]
    fn base_headers_in_freeswitch_order() {
        let r = Renderer::new(Identity {
            core_uuid: "core".into(),
            hostname: "h".into(),
            switchname: "h".into(),
            ipv4: "127.0.0.1".into(),
            ipv6: "::1".into(),
        });
        let at = DateTime::from_timestamp(1_589_448_930, 194_500_000).unwrap();
        let e = r.background_job("j", "status", None, "UP\n", at);
        let names: Vec<&str> = e.headers().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Event-Name",
                "Core-UUID",
                "FreeSWITCH-Hostname",
                "FreeSWITCH-Switchname",
                "FreeSWITCH-IPv4",
                "FreeSWITCH-IPv6",
                "Event-Date-Local",
                "Event-Date-GMT",
                "Event-Date-Timestamp",
                "Event-Calling-File",
                "Event-Calling-Function",
                "Event-Calling-Line-Number",
                "Event-Sequence",
                "Job-UUID",
                "Job-Command"
            ]
        );
        assert_eq!(
            e.header("Event-Date-GMT"),
            Some("Thu, 14 May 2020 09:35:30 GMT")
        );
        assert_eq!(e.header("Event-Date-Timestamp"), Some("1589448930194500"));
        assert_eq!(e.header("Event-Sequence"), Some("1"));
        assert!(e
            .to_plain()
            .ends_with("Job-Command: status\nContent-Length: 3\n\nUP\n"));
    }
}

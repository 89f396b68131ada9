//! Setting a call up: dialling or answering, the first SDP, and the helpers both use.

use super::*;

/// Places `call` and runs the fax `job` on it.
pub async fn run_outgoing(
    agent: &SipAgent,
    call: OutgoingCall,
    job: FaxJob,
    settings: &MediaSettings,
    progress: Option<UnboundedSender<Progress>>,
) -> CallReport {
    let direction = fax_direction(&job.direction);
    let mut report = CallReport::new(direction);
    if let Direction::Send { tiff, .. } = &job.direction {
        if let Err(e) = spandsp::inspect_send_tiff(tiff, spandsp::TiffCheck::Headers) {
            report.failure = Some(e.to_string());
            return report;
        }
    }
    let socket = match bind_socket(settings) {
        Ok(s) => s,
        Err(e) => {
            report.failure = Some(format!("no media port: {e}"));
            return report;
        }
    };
    let mut media = media_config(settings, &job.options, socket.local_addr().port());
    if job.options.t38_in_invite && job.options.t38 != T38Mode::Off {
        media.offer = OfferMedia::T38;
    }
    report.offered_only_g711 = media.offer == OfferMedia::Audio;
    let (peer, alternates) = match next_hops(agent, &call).await {
        Ok(hops) => hops,
        Err(why) => {
            report.failure = Some(why);
            return report;
        }
    };
    let params = sip::dialog::CallParams {
        target: call.target,
        from: call.from,
        to: call.to,
        peer,
        media,
        delayed_offer: false,
        credentials: call.credentials,
        headers: call.headers,
    };
    let handle = match agent.invite_with_failover(params, alternates).await {
        Ok(h) => h,
        Err(e) => {
            report.failure = Some(format!("could not place the call: {e}"));
            return report;
        }
    };
    report.call_id = handle.call_id().to_owned();
    if let Some(p) = &progress {
        let _ = p.send(Progress::Placed {
            call_id: report.call_id.clone(),
        });
    }
    let ring_deadline = TokioInstant::now() + job.options.ring_timeout;
    let mut session = Session::new(
        handle,
        Role::Calling,
        job,
        settings,
        socket,
        report,
        progress,
    );
    session.ring_deadline = Some(ring_deadline);
    guard::run_guarded(session).await
}

/// The next hop of `call` and the ones to fail over to: the given peer, or, when its
/// address is unspecified ([`OutgoingCall::resolving`]), the RFC 3263 targets of the URI.
async fn next_hops(agent: &SipAgent, call: &OutgoingCall) -> Result<(Peer, Vec<Peer>), String> {
    if !call.peer.addr.ip().is_unspecified() {
        return Ok((call.peer, Vec::new()));
    }
    let Some(uri) = call.target.as_sip() else {
        return Err(format!("cannot dial {}: not a sip: URI", call.target));
    };
    let mut targets = agent.resolve(uri).await.into_iter();
    match targets.next() {
        Some(first) => Ok((first, targets.collect())),
        None => Err(format!(
            "cannot dial {}: {} does not resolve",
            call.target,
            uri.host.canonical()
        )),
    }
}

/// Answers `incoming` (after the configured delay) and runs the fax `job` on it.
pub async fn run_incoming(
    incoming: IncomingCall,
    job: FaxJob,
    settings: &MediaSettings,
    progress: Option<UnboundedSender<Progress>>,
) -> CallReport {
    let IncomingCall { handle, offer, .. } = incoming;
    let mut report = CallReport::new(fax_direction(&job.direction));
    report.call_id = handle.call_id().to_owned();
    let socket = match bind_socket(settings) {
        Ok(s) => s,
        Err(e) => {
            // Out of ports: a 503 lets the caller try another node.
            handle.reject(503);
            report.failure = Some(format!("no media port: {e}"));
            report.sip_status = Some(503);
            return report;
        }
    };
    if offer.as_ref().is_some_and(offers_t38) {
        report.t38.push(T38Event {
            at_ms: 0,
            step: T38Step::Offered { by: Party::Remote },
        });
    }
    let delay = job.options.answer_delay;
    let mut session = Session::new(
        handle,
        Role::Answering,
        job,
        settings,
        socket,
        report,
        progress,
    );
    session.handle.ring();
    session.answer_at = Some(TokioInstant::now() + delay);
    guard::run_guarded(session).await
}

pub(super) fn fax_direction(d: &Direction) -> FaxDirection {
    match d {
        Direction::Send { .. } => FaxDirection::Send,
        Direction::Receive { .. } => FaxDirection::Receive,
    }
}

pub(crate) fn bind_socket(settings: &MediaSettings) -> Result<MediaSocket, media::Error> {
    let config = SocketConfig {
        local_ip: settings.bind_ip,
        dscp: settings.dscp,
        ..SocketConfig::default()
    };
    // Sends nowhere useful until the SDP says where: the discard port of our own address.
    let placeholder = SocketAddr::new(settings.bind_ip, 9);
    MediaSocket::bind(
        &settings.pool,
        &config,
        StreamFilter::rtp_types(&[0, 8]),
        placeholder,
    )
}

pub(super) fn policy(options: &FaxOptions) -> Policy {
    Policy {
        accept_audio: true,
        accept_t38: options.t38 != T38Mode::Off,
        prefer: Preference::Image,
    }
}

pub(super) fn media_config(
    settings: &MediaSettings,
    options: &FaxOptions,
    port: u16,
) -> MediaConfig {
    MediaConfig {
        caps: settings.capabilities(port),
        policy: policy(options),
        offer: OfferMedia::Audio,
    }
}

pub(crate) fn offers_t38(sdp: &SessionDescription) -> bool {
    sdp.media.iter().any(|m| m.port != 0 && m.is_udptl_t38())
}

/// The audio stream of an early (18x) answer, read without completing offer/answer.
pub(super) fn early_audio(sdp: &SessionDescription, codecs: &[G711]) -> Option<AudioSession> {
    let m = sdp
        .media
        .iter()
        .find(|m| m.port != 0 && m.is_rtp_avp_audio())?;
    let ip = sdp.connection_for(m).and_then(|c| c.ip())?;
    let all = m.codecs();
    let codec = all.iter().find(|c| codecs.iter().any(|g| c.is(g.name())))?;
    Some(AudioSession {
        remote: Some(SocketAddr::new(ip, m.port)),
        codec: if codec.is("PCMA") {
            G711::Pcma
        } else {
            G711::Pcmu
        },
        payload_type: codec.payload_type,
        telephone_event: all
            .iter()
            .find(|c| c.is("telephone-event"))
            .map(|c| c.payload_type),
        ptime: m.ptime().filter(|p| (10..=60).contains(p)).unwrap_or(20),
        direction: SdpDirection::SendRecv,
    })
}

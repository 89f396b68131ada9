//! What a fax call does: T.38 policy, T.30 settings, timers, and the media it may use.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use media::playout::PlayoutConfig;
use media::ports::PortPool;
use media::udptl::ErrorCorrection;
use serde::{Deserialize, Serialize};
use sip::sdp::{Capabilities, T38Capabilities, UdpEc, G711};
use spandsp::LogLevel;

/// How a call uses T.38.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum T38Mode {
    /// G.711 only: T.38 offers are refused with 488.
    Off,
    /// Take T.38 when the far end offers it; never ask for it.
    Accept,
    /// Take T.38 when offered, and ask for it ourselves (see [`T38Trigger`]).
    Request,
}

impl FromStr for T38Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "no" | "false" => Ok(T38Mode::Off),
            "accept" => Ok(T38Mode::Accept),
            "request" | "on" | "yes" | "true" => Ok(T38Mode::Request),
            _ => Err(format!("T.38 mode {s:?} is not off, accept or request")),
        }
    }
}

/// When we ask for T.38 in [`T38Mode::Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum T38Trigger {
    /// As soon as the call is answered.
    Answer,
    /// When the far fax makes itself known: CNG, CED/ANS, or a V.21 preamble, whether heard
    /// in band (a T.30 frame) or signalled as an RFC 4733 event by a relay gateway.
    Tone,
}

/// What to do when T.38 was agreed but no UDPTL arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadT38 {
    /// Re-INVITE back to G.711 and go on there.
    FallBackToAudio,
    /// End the call with the reason "no T.38 media".
    Fail,
}

/// The fax side of one call.
#[derive(Debug, Clone)]
pub struct FaxOptions {
    /// T.38 use.
    pub t38: T38Mode,
    /// When we ask for T.38.
    pub t38_trigger: T38Trigger,
    /// Offer T.38 alone in our INVITE (for peers that expect it from the start); the
    /// default offers G.711 and switches by re-INVITE.
    pub t38_in_invite: bool,
    /// Offer error correction mode.
    pub ecm: bool,
    /// Leave V.17 out (slower, but some lines only pass V.29).
    pub disable_v17: bool,
    /// TSI or CSI (≤ 20 printable ASCII characters).
    pub ident: String,
    /// Header line text on sent pages (≤ 50 characters).
    pub header: Option<String>,
    /// POSIX TZ rule of the date in the header line (the queue derives it from the sending
    /// number's or tenant's IANA zone, store::header_tz); the process's local time when `None`.
    pub header_tz: Option<String>,
    /// How long T.38 may stay silent while audio still arrives.
    pub t38_media_timeout: Duration,
    /// What a silent T.38 leads to.
    pub dead_t38: DeadT38,
    /// An unanswered call is cancelled after this long.
    pub ring_timeout: Duration,
    /// Wait this long after an INVITE arrives before answering.
    pub answer_delay: Duration,
    /// The call ends when T.30 makes no progress (no frame, no page) for this long.
    pub idle_timeout: Duration,
    /// Cap on a call's media time before any page: raised by `per_page` for each page.
    pub max_duration: Duration,
    /// Extra media time allowed per page (sent or announced).
    pub per_page: Duration,
    /// Media time between the end of T.30 and our BYE, so the last frames reach the far end.
    pub hangup_linger: Duration,
    /// SpanDSP log detail.
    pub log_level: LogLevel,
    /// Keep the SIP ladder and SpanDSP's T.30 trace in the report's debug bundle (SpanDSP
    /// then logs at least at [`LogLevel::Flow`], which reaches `tracing` at debug only).
    pub debug_capture: bool,
    /// Also keep a pcap of the call's RTP/UDPTL.
    pub debug_pcap: bool,
    /// Test hook: the call task panics at its first media tick at or after this media time
    /// (ms), to prove a panic fails that call only.
    #[doc(hidden)]
    pub test_panic_at_ms: Option<u64>,
}

impl Default for FaxOptions {
    fn default() -> Self {
        FaxOptions {
            t38: T38Mode::Accept,
            t38_trigger: T38Trigger::Answer,
            t38_in_invite: false,
            ecm: true,
            disable_v17: false,
            ident: String::new(),
            header: None,
            header_tz: None,
            t38_media_timeout: Duration::from_secs(5),
            dead_t38: DeadT38::FallBackToAudio,
            ring_timeout: Duration::from_secs(60),
            answer_delay: Duration::ZERO,
            idle_timeout: Duration::from_secs(90),
            max_duration: Duration::from_secs(180),
            per_page: Duration::from_secs(120),
            hangup_linger: Duration::from_millis(500),
            log_level: LogLevel::Warning,
            debug_capture: true,
            debug_pcap: false,
            test_panic_at_ms: None,
        }
    }
}

/// UDPTL error correction we use when the far end accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdptlOptions {
    /// Earlier IFPs repeated in each datagram under `t38UDPRedundancy`.
    pub redundancy_depth: u8,
    /// IFPs per XOR message under `t38UDPFEC`.
    pub fec_span: u8,
    /// XOR messages per datagram under `t38UDPFEC`.
    pub fec_entries: u8,
    /// Highest T.38 version we speak.
    pub max_version: u8,
    /// UDPTL error correction schemes we accept, in order of preference (SDP).
    pub error_correction: Vec<UdpEc>,
}

impl Default for UdptlOptions {
    fn default() -> Self {
        UdptlOptions {
            redundancy_depth: 3,
            fec_span: 3,
            fec_entries: 3,
            max_version: 3,
            error_correction: vec![UdpEc::Redundancy, UdpEc::Fec],
        }
    }
}

impl UdptlOptions {
    /// The sender's error correction for the scheme the SDP agreed on.
    pub fn error_correction(&self, agreed: UdpEc) -> ErrorCorrection {
        match agreed {
            UdpEc::Redundancy => ErrorCorrection::Redundancy {
                depth: self.redundancy_depth,
            },
            UdpEc::Fec => ErrorCorrection::Fec {
                span: self.fec_span,
                entries: self.fec_entries,
            },
            UdpEc::None => ErrorCorrection::None,
        }
    }
}

/// Where a call's media lives.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// RTP/UDPTL ports.
    pub pool: Arc<PortPool>,
    /// Address media sockets bind to.
    pub bind_ip: IpAddr,
    /// Address written into SDP when it differs from the bind address (1:1 NAT).
    pub advertised_ip: Option<IpAddr>,
    /// DSCP of media packets (46, EF, by default).
    pub dscp: u8,
    /// Media clock speed: 1 is real time. Tests between two ends of the same speed may run
    /// faster; a call to anything else must use 1.
    pub speed: u32,
    /// Playout buffer of received audio.
    pub playout: PlayoutConfig,
    /// G.711 laws in order of preference.
    pub codecs: Vec<G711>,
    /// UDPTL settings.
    pub udptl: UdptlOptions,
}

/// Default depth of the playout buffer of received G.711. A fixed depth never warps the
/// signal, so deeper costs only delay, which T.30 (responses due within seconds) does not
/// notice; too shallow, and audio that comes late is lost. 100 ms covers what a loaded
/// server's own scheduling adds (up to about 85 ms measured at 500 concurrent G.711 calls,
/// where 60 ms lost V.21 frames) besides the network's jitter.
pub const DEFAULT_PLAYOUT_DEPTH: std::time::Duration = std::time::Duration::from_millis(100);

impl MediaSettings {
    /// Defaults around a port pool and a bind address.
    pub fn new(pool: Arc<PortPool>, bind_ip: IpAddr) -> Self {
        MediaSettings {
            pool,
            bind_ip,
            advertised_ip: None,
            dscp: media::socket::DSCP_EF,
            speed: 1,
            playout: PlayoutConfig {
                depth: DEFAULT_PLAYOUT_DEPTH,
                ..PlayoutConfig::default()
            },
            codecs: vec![G711::Pcmu, G711::Pcma],
            udptl: UdptlOptions::default(),
        }
    }

    /// Our SDP capabilities for a call whose audio and T.38 share `port`.
    pub fn capabilities(&self, port: u16) -> Capabilities {
        let mut caps = Capabilities::new(self.advertised_ip.unwrap_or(self.bind_ip), port, port);
        caps.codecs = self.codecs.clone();
        caps.t38 = T38Capabilities {
            max_version: self.udptl.max_version,
            error_correction: self.udptl.error_correction.clone(),
            ..T38Capabilities::default()
        };
        caps
    }
}

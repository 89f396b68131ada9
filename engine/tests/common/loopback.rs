//! One fax between two engine user agents on 127.0.0.1, over real SIP and UDP: the shape
//! most call tests share, with the parts they vary as fields.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, CallReport, FaxJob, FaxOptions, MediaSettings,
    OutgoingCall, PeerAcl, Progress, SipAgent,
};
use media::ports::PortPool;
use spandsp::Direction;
use tokio::sync::{mpsc::UnboundedSender, watch};

/// The loopback address everything binds to.
pub const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How long the receiving call may outlast the sending one before the test fails.
const RECEIVER_GRACE: Duration = Duration::from_secs(120);

/// Both ends of a finished loopback fax.
pub struct Ends {
    /// The sending call's report.
    pub send: CallReport,
    /// The receiving call's report.
    pub receive: CallReport,
    /// The document sent.
    pub send_path: PathBuf,
    /// Where the receiver wrote what it got.
    pub rx_path: PathBuf,
}

/// What a loopback fax varies.
pub struct Loopback {
    /// The sending call's options.
    pub sender: FaxOptions,
    /// The receiving call's options.
    pub receiver: FaxOptions,
    /// The sending agent (default: plain, on 127.0.0.1).
    pub tx_agent: AgentConfig,
    /// The receiving agent (default: admits 127.0.0.0/8).
    pub rx_agent: AgentConfig,
    /// Media settings of both calls.
    pub media: MediaSettings,
    /// The receiving call's cancel flag.
    pub rx_cancel: Option<watch::Receiver<bool>>,
    /// Where the receiving call reports progress.
    pub rx_progress: Option<UnboundedSender<Progress>>,
}

/// Media at `speed` on a port pool of its own, with a playout depth that leaves a real-time
/// margin on a busy machine (the depth shrinks with the speed like all media time).
pub fn media(speed: u32) -> MediaSettings {
    let pool = Arc::new(PortPool::new(20000..=29999).expect("port pool"));
    let mut m = MediaSettings::new(pool, LO);
    m.speed = speed;
    m.playout.depth = Duration::from_millis(240);
    m
}

/// An agent on 127.0.0.1 that admits calls from 127.0.0.0/8.
pub fn receiving_agent() -> AgentConfig {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).expect("acl");
    cfg
}

impl Loopback {
    /// A fax with these options at `speed`, between default agents.
    pub fn new(sender: FaxOptions, receiver: FaxOptions, speed: u32) -> Self {
        Loopback {
            sender,
            receiver,
            tx_agent: AgentConfig::new(SocketAddr::new(LO, 0)),
            rx_agent: receiving_agent(),
            media: media(speed),
            rx_cancel: None,
            rx_progress: None,
        }
    }

    /// Sends `tiff` (written into `dir`) from one agent to the other; returns both reports.
    pub async fn run(self, dir: &Path, tiff: &[u8]) -> Ends {
        std::fs::create_dir_all(dir).expect("test directory");
        let send_path = super::write_send_document(dir, tiff);
        let rx_path = dir.join("received.tif");
        let (rx_agent, mut incoming) = SipAgent::start(self.rx_agent).await.expect("rx agent");
        let (tx_agent, _none) = SipAgent::start(self.tx_agent).await.expect("tx agent");
        let rx_job = FaxJob {
            direction: Direction::Receive {
                tiff: rx_path.clone(),
            },
            options: self.receiver,
            cancel: self.rx_cancel,
        };
        let rx_media = self.media.clone();
        let progress = self.rx_progress;
        let receiving = tokio::spawn(async move {
            let call = incoming.recv().await.expect("an INVITE arrives");
            run_incoming(call, rx_job, &rx_media, progress).await
        });
        let target = format!("sip:5551234@{}", rx_agent.local_addr());
        let call = OutgoingCall::direct(&target, "5550001", tx_agent.local_addr()).expect("call");
        let tx_job = FaxJob {
            direction: Direction::Send {
                tiff: send_path.clone(),
                first_page: 1,
            },
            options: self.sender,
            cancel: None,
        };
        let send = run_outgoing(&tx_agent, call, tx_job, &self.media, None).await;
        let receive = tokio::time::timeout(RECEIVER_GRACE, receiving)
            .await
            .expect("the receiving call ends")
            .expect("the receiving task");
        Ends {
            send,
            receive,
            send_path,
            rx_path,
        }
    }
}

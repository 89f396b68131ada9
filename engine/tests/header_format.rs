//! A sending number with its own header date format: the queue draws the header line itself
//! (date in the number's zone and format, header text, ident, `p.N/M`) on a per-attempt copy
//! of the document and tells SpanDSP to draw none. One job through the real queue, a real
//! SQLite store and a loopback call (real SIP, real UDP, real SpanDSP on both ends): every
//! received page is the sent page with exactly our band over its top rows. A resend from
//! page 3 (scripted dialer) still numbers pages as the document does, dated at its own dial
//! time; the format's fallback from number to tenant on SQLite and PostgreSQL.

mod common;
mod queue_harness;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use engine::call::{
    run_incoming, AgentConfig, CallReport, FaxJob, FaxOptions, MediaSettings, PeerAcl, Progress,
    SipAgent, T38Mode,
};
use engine::documents::header::{band_rows, draw_header, format_date, HeaderLine};
use engine::documents::{read_tiff_pages, FaxPage};
use engine::queue::{DialRequest, Dialer, SipDialer};
use media::ports::PortPool;
use queue_harness::{t0, Script, World, CALLEE, CALLER};
use spandsp::Direction;
use store::{
    EndpointKind, JobStatus, NewDocument, NewEndpoint, NewGateway, NewJob, Scope, Submission,
    Transport, E164,
};
use tokio::sync::mpsc::UnboundedSender;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const FORMAT: &str = "%Y-%m-%d %H:%M";

/// What the queue handed the dialer.
struct Seen {
    header: Option<String>,
    ident: String,
    first_page: u32,
    tiff: Vec<u8>,
}

/// Another dialer (the real SIP one, or the harness's scripted one), noting each request
/// first.
struct Recording {
    inner: Arc<dyn Dialer>,
    seen: Mutex<Vec<Seen>>,
}

#[async_trait]
impl Dialer for Recording {
    async fn dial(&self, req: DialRequest, progress: UnboundedSender<Progress>) -> CallReport {
        self.seen.lock().unwrap().push(Seen {
            header: req.options.header.clone(),
            ident: req.options.ident.clone(),
            first_page: req.first_page,
            tiff: std::fs::read(&req.tiff).unwrap_or_default(),
        });
        self.inner.dial(req, progress).await
    }
}

fn media(pool: &Arc<PortPool>) -> MediaSettings {
    let mut m = MediaSettings::new(pool.clone(), LO);
    m.speed = 4;
    m.playout.depth = Duration::from_millis(240);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_draws_the_header_line_in_the_numbers_format_and_zone() {
    let w = World::new(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(PortPool::new(20000..=29999).unwrap());

    // The far end: a receiving agent the gateway row points at.
    let rx_path = dir.path().join("received.tif");
    let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    let (rx_agent, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let rx_media = media(&pool);
    let rx_job = FaxJob {
        direction: Direction::Receive {
            tiff: rx_path.clone(),
        },
        options: FaxOptions {
            ident: "RECEIVER".to_owned(),
            t38: T38Mode::Accept,
            ..FaxOptions::default()
        },
        cancel: None,
    };
    let receiving = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        run_incoming(call, rx_job, &rx_media, None).await
    });
    w.store
        .create_gateway(&NewGateway {
            name: "loop".into(),
            uri: format!("sip:{}", rx_agent.local_addr()),
            transport: Transport::Udp,
            username: None,
            password: None,
            register: false,
            allowed_sources: vec!["127.0.0.1".into()],
            tenant_id: None,
            t38_allowed: true,
        })
        .await
        .unwrap();
    w.store
        .create_endpoint(
            None,
            &NewEndpoint {
                scope: Scope::Global,
                scope_id: 0,
                endpoint_type: EndpointKind::Gateway,
                target: "loop".into(),
                priority: 10,
                bridge: false,
            },
        )
        .await
        .unwrap();

    // The tenant has a format of its own; the number's wins.
    let number = w
        .store
        .find_number(&E164::parse(CALLER).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(w
        .store
        .set_header_date_format(w.tenant, None, "%d/%m/%Y")
        .await
        .unwrap());
    assert!(w
        .store
        .set_header_date_format(w.tenant, Some(number.id), FORMAT)
        .await
        .unwrap());
    assert!(w
        .store
        .set_header_tz(w.tenant, Some(number.id), "Asia/Kolkata")
        .await
        .unwrap());

    let tiff = common::charts_tiff(&common::itu_charts(2));
    let doc = NewDocument {
        tenant_id: w.tenant,
        content_type: "image/tiff".into(),
        pages: 2,
        data: tiff.clone(),
    };
    let new_job = NewJob {
        tenant_id: w.tenant,
        direction: store::Direction::Outbound,
        caller: CALLER.into(),
        callee: CALLEE.into(),
        document_id: None,
        priority: 0,
        not_before: w.clock.now(),
    };
    let job = match w
        .store
        .submit_job(&doc, &new_job, None, w.clock.now())
        .await
        .unwrap()
    {
        Submission::Created(j) => j,
        other => panic!("{other:?}"),
    };

    let (tx_agent, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();
    let dialer = Arc::new(Recording {
        inner: Arc::new(SipDialer::new(tx_agent, media(&pool), Some(LO))),
        seen: Mutex::default(),
    });
    let q = w.queue_dialing("node-a", dialer.clone());
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    let received = tokio::time::timeout(Duration::from_secs(120), receiving)
        .await
        .expect("the receiving call ends")
        .unwrap();
    assert!(received.is_success(), "receiver: {}", received.summary());
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);

    // The queue's clock stands at t0 (2023-11-14 22:13:20 UTC): 03:43 next day in Kolkata.
    let zone = store::header_tz::posix_rule("Asia/Kolkata").unwrap();
    let date = format_date(t0(), Some(&zone), FORMAT);
    assert_eq!(date, "2023-11-15 03:43");

    let seen = dialer.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header, None, "SpanDSP is asked for no header");
    assert_eq!(seen[0].first_page, 1);
    assert!(!seen[0].ident.is_empty());
    let sent = read_tiff_pages(&tiff).unwrap();
    let handed = read_tiff_pages(&seen[0].tiff).unwrap();
    let received = common::pages_of(&rx_path);
    assert_eq!((sent.len(), handed.len(), received.len()), (2, 2, 2));
    for (n, (sent, received)) in sent.iter().zip(&received).enumerate() {
        let mut want: FaxPage = sent.clone();
        draw_header(
            &mut want,
            &HeaderLine {
                date: &date,
                text: "ACME FAX",
                ident: &seen[0].ident,
                page: n as u32 + 1,
                pages: 2,
            },
        );
        let (r, s, wb) = (&received.bitmap, &sent.bitmap, &want.bitmap);
        assert_eq!((r.width, r.height), (s.width, s.height), "page {}", n + 1);
        let band = band_rows(sent.y_dpi) as usize * s.stride();
        assert_eq!(r.data[..band], wb.data[..band], "page {} band", n + 1);
        assert_ne!(r.data[..band], s.data[..band], "page {} band drawn", n + 1);
        assert_eq!(r.data[band..], s.data[band..], "page {} below", n + 1);
        assert_eq!(handed[n].bitmap, *wb, "page {} handed to the call", n + 1);
    }
    // The per-attempt copy is gone.
    let left: Vec<_> = std::fs::read_dir(&w.spool)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_resend_keeps_the_documents_page_numbers_and_dates_each_attempt() {
    let w = World::new(&[("a", 1)]).await;
    w.dialer.script(
        "a",
        [
            Script::Fax {
                confirmed: 2,
                code: 49,
            },
            Script::Fax {
                confirmed: 1,
                code: 0,
            },
        ],
    );
    assert!(w
        .store
        .set_header_date_format(w.tenant, None, "%H:%M:%S")
        .await
        .unwrap());
    assert!(w.store.set_header_tz(w.tenant, None, "UTC").await.unwrap());
    let job = w.submit(CALLEE, 3).await;
    let document = w
        .store
        .get_document(w.tenant, job.document_id.unwrap())
        .await
        .unwrap()
        .unwrap()
        .data;
    let dialer = Arc::new(Recording {
        inner: w.dialer.clone(),
        seen: Mutex::default(),
    });
    let q = w.queue_dialing("node-a", dialer.clone());
    q.run_until_idle().await.unwrap();
    w.clock.advance(Duration::from_secs(61));
    q.run_until_idle().await.unwrap();
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);

    let seen = dialer.seen.lock().unwrap();
    assert_eq!(
        seen.iter().map(|s| s.first_page).collect::<Vec<_>>(),
        vec![1, 3]
    );
    let sent = read_tiff_pages(&document).unwrap();
    for (s, date) in seen.iter().zip(["22:13:20", "22:14:21"]) {
        assert_eq!(s.header, None);
        let handed = read_tiff_pages(&s.tiff).unwrap();
        assert_eq!(handed.len(), 3, "the whole document, numbered as such");
        for (n, (page, sent)) in handed.iter().zip(&sent).enumerate() {
            let mut want = sent.clone();
            draw_header(
                &mut want,
                &HeaderLine {
                    date,
                    text: "ACME FAX",
                    ident: &s.ident,
                    page: n as u32 + 1,
                    pages: 3,
                },
            );
            assert_eq!(page.bitmap, want.bitmap, "page {} at {date}", n + 1);
        }
    }
}

#[tokio::test]
async fn format_is_the_numbers_then_the_tenants_and_refused_when_bad() {
    format_resolution(World::new(&[("gw", 1)]).await).await;
}

#[tokio::test]
async fn format_is_the_numbers_then_the_tenants_on_postgres() {
    let test = "format_is_the_numbers_then_the_tenants_on_postgres";
    if let Some(w) = World::new_pg(test, &[("gw", 1)]).await {
        format_resolution(w).await;
    }
}

/// The number's format wins over the tenant's; clearing, refusing and a missing tenant.
async fn format_resolution(w: World) {
    let job = w.submit(CALLEE, 1).await;
    let number = w
        .store
        .find_number(&E164::parse(CALLER).unwrap())
        .await
        .unwrap()
        .unwrap();
    let format = || engine::queue::header_date_format(w.store.as_ref(), &job);
    assert_eq!(format().await.unwrap(), None, "unset: SpanDSP's header");
    let s = &w.store;
    assert!(s
        .set_header_date_format(w.tenant, None, "%d.%m.%Y %H:%M")
        .await
        .unwrap());
    assert_eq!(format().await.unwrap().as_deref(), Some("%d.%m.%Y %H:%M"));
    assert!(s
        .set_header_date_format(w.tenant, Some(number.id), " %Y-%m-%d ")
        .await
        .unwrap());
    assert_eq!(format().await.unwrap().as_deref(), Some("%Y-%m-%d"));
    assert!(s
        .set_header_date_format(w.tenant, Some(number.id), "")
        .await
        .unwrap());
    assert_eq!(format().await.unwrap().as_deref(), Some("%d.%m.%Y %H:%M"));
    let err = s
        .set_header_date_format(w.tenant, None, "%Y %Q")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("header_date_format"), "{err}");
    assert_eq!(format().await.unwrap().as_deref(), Some("%d.%m.%Y %H:%M"));
    assert!(!s
        .set_header_date_format(store::TenantId(9999), None, "%Y")
        .await
        .unwrap());
}

//! Shared harness: a store in a temp dir, a tenant with numbers, a received fax (a real
//! two-page TIFF-F), and a loopback HTTP receiver that records what it gets.

#![allow(dead_code)]

pub mod smtp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use engine::documents::{write_fax_tiff, Bitmap, FaxPage};
use store::*;
use tokio::sync::mpsc;

/// A fixed start time for the manual clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
        .single()
        .expect("time")
}

/// A store in its own directory.
pub struct Env {
    _dir: tempfile::TempDir,
    /// The store.
    pub store: Arc<dyn Store>,
    /// A tenant with numbers `+12125550100` (sender side) and `+12125550199`.
    pub tenant: Tenant,
    /// The tenant's receiving number.
    pub number: TenantNumber,
}

impl Env {
    /// The delivery row `id`, which must exist.
    pub async fn delivery(&self, id: DeliveryId) -> Delivery {
        self.store
            .get_delivery(None, id)
            .await
            .expect("get")
            .expect("the delivery row exists")
    }

    /// Sets the tenant's gofaxserver-style notify list.
    pub async fn set_tenant_notify(&self, notify: &str) {
        self.store
            .update_tenant(
                self.tenant.id,
                &NewTenant {
                    name: self.tenant.name.clone(),
                    notify: notify.into(),
                },
            )
            .await
            .expect("notify");
    }
}

/// A fresh store with one tenant and two numbers.
pub async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("notify.db"))
            .await
            .expect("sqlite"),
    );
    let tenant = store
        .create_tenant(
            &NewTenant {
                name: "Acme".into(),
                notify: String::new(),
            },
            t0(),
        )
        .await
        .expect("tenant");
    let num = |n: &str| NewNumber {
        number: E164::parse(n).expect("e164"),
        name: "Front desk".into(),
        header: "ACME".into(),
        notify: String::new(),
    };
    store
        .create_number(tenant.id, &num("+12125550100"))
        .await
        .expect("number");
    let number = store
        .create_number(tenant.id, &num("+12125550199"))
        .await
        .expect("number");
    Env {
        _dir: dir,
        store,
        tenant,
        number,
    }
}

/// A two-page TIFF-F whose pages differ (a block of black rows at a different place).
pub fn fax_tiff() -> Vec<u8> {
    let page = |offset: u32| {
        let mut b = Bitmap::new(1728, 400);
        for y in offset..offset + 40 {
            for x in 200..1500 {
                b.set(x, y, true);
            }
        }
        FaxPage {
            bitmap: b,
            x_dpi: 204.0,
            y_dpi: 196.0,
        }
    };
    write_fax_tiff(&[page(20), page(300)]).expect("tiff")
}

/// Stores a received fax (an inbound job with a TIFF document) for the tenant's number.
pub async fn received_fax(e: &Env, tiff: &[u8]) -> Job {
    let job = NewJob {
        tenant_id: e.tenant.id,
        direction: Direction::Inbound,
        caller: "+442071234567".into(),
        callee: e.number.number.clone(),
        document_id: None,
        priority: 0,
        not_before: t0(),
    };
    let doc = NewDocument {
        tenant_id: e.tenant.id,
        content_type: "image/tiff".into(),
        pages: 2,
        data: tiff.to_vec(),
    };
    match e
        .store
        .submit_job(&doc, &job, None, t0())
        .await
        .expect("submit")
    {
        Submission::Created(j) => j,
        other => panic!("unexpected {other:?}"),
    }
}

/// Adds an endpoint of the tenant.
pub async fn endpoint(e: &Env, kind: EndpointKind, target: &str, priority: i64) -> Endpoint {
    e.store
        .create_endpoint(
            Some(e.tenant.id),
            &NewEndpoint {
                scope: Scope::Tenant,
                scope_id: e.tenant.id.0,
                endpoint_type: kind,
                target: target.into(),
                priority,
                bridge: false,
            },
        )
        .await
        .expect("endpoint")
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
}

/// What the receiver answers, in order; the last one repeats.
pub type Script = Arc<Mutex<Vec<u16>>>;

#[derive(Clone)]
struct RecvState {
    script: Script,
    tx: mpsc::UnboundedSender<Received>,
}

async fn record(State(s): State<RecvState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = {
        let mut script = s.script.lock().expect("script");
        if script.len() > 1 {
            script.remove(0)
        } else {
            script.first().copied().unwrap_or(200)
        }
    };
    let _ = s.tx.send(Received {
        headers,
        body: body.to_vec(),
        status,
    });
    StatusCode::from_u16(status).expect("status")
}

/// A loopback HTTP server answering every POST by `script`; returns its base URL and the
/// stream of what it received.
pub async fn receiver(script: Vec<u16>) -> (String, mpsc::UnboundedReceiver<Received>, Script) {
    let (tx, rx) = mpsc::unbounded_channel();
    let script: Script = Arc::new(Mutex::new(script));
    let app = Router::new().fallback(post(record)).with_state(RecvState {
        script: script.clone(),
        tx,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), rx, script)
}

/// A header as text.
pub fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

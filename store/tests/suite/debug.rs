//! Per-call debug bundles: stored per leg, listed per job and tenant (the administrator sees
//! all), the pcap read on its own, purged by age; and the pcap switches on tenants and
//! gateways.

use serde_json::json;
use store::debug::leg;
use store::*;

use super::queue::new_job;
use super::{at, tenant};

fn bundle(t: TenantId, job: JobId, leg: &str, secs: i64, pcap: Option<Vec<u8>>) -> NewCallDebug {
    NewCallDebug {
        tenant_id: t,
        job_id: job,
        leg: leg.into(),
        attempt_id: (leg == "send").then_some(1),
        call_id: format!("call-{secs}@example.invalid"),
        created_at: at(secs),
        // Key order differs from sorted order on purpose: it must come back as written.
        sip: json!([{"unix_ms": 1_700_000_000_000_i64, "sent": true, "peer": "192.0.2.1:5060",
                     "transport": "udp", "text": "INVITE sip:+15551230002@192.0.2.1 SIP/2.0\r\n\r\n"}]),
        t30: json!([{"at_ms": 1200, "level": "flow", "text": "Rx DIS"}]),
        truncated: secs % 2 == 1,
        pcap,
    }
}

/// Runs the checks.
pub async fn run(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Debug"), at(0)).await.unwrap();
    assert!(!t.debug_pcap, "pcap capture is off by default");
    let other = s.create_tenant(&tenant("Debug2"), at(0)).await.unwrap().id;
    let job = s
        .create_job(&new_job(t.id, None, 0), at(1))
        .await
        .unwrap()
        .id;
    // Administrators find the job's owner without knowing it; an unknown job has none.
    assert_eq!(s.job_tenant(job).await.unwrap(), Some(t.id));
    assert_eq!(s.job_tenant(JobId(uuid::Uuid::nil())).await.unwrap(), None);
    let pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 0, 1, 2, 255];

    let first = s
        .save_call_debug(&bundle(t.id, job, leg::SEND, 10, None))
        .await
        .unwrap();
    let second = s
        .save_call_debug(&bundle(t.id, job, leg::SEND, 21, Some(pcap.clone())))
        .await
        .unwrap();
    assert_ne!(first, second);

    let rows = s.list_call_debug(Some(t.id), job).await.unwrap();
    assert_eq!(rows.len(), 2);
    let want = bundle(t.id, job, leg::SEND, 21, None);
    let r = &rows[1];
    assert_eq!(
        (r.id, r.tenant_id, r.job_id, r.leg.as_str(), r.attempt_id),
        (second, t.id, job, "send", Some(1))
    );
    assert_eq!(
        (r.call_id.as_str(), r.created_at, r.truncated, r.has_pcap),
        ("call-21@example.invalid", at(21), true, true)
    );
    assert_eq!((&r.sip, &r.t30), (&want.sip, &want.t30));
    assert_eq!((rows[0].id, rows[0].has_pcap), (first, false));

    // Another tenant sees nothing; the administrator (None) sees everything.
    assert!(s
        .list_call_debug(Some(other), job)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.list_call_debug(None, job).await.unwrap(), rows);

    assert_eq!(
        s.get_call_debug_pcap(Some(t.id), job, second)
            .await
            .unwrap(),
        Some(pcap.clone())
    );
    assert_eq!(
        s.get_call_debug_pcap(None, job, second).await.unwrap(),
        Some(pcap)
    );
    assert_eq!(
        s.get_call_debug_pcap(Some(other), job, second)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.get_call_debug_pcap(Some(t.id), job, first).await.unwrap(),
        None
    );
    let elsewhere = s
        .create_job(&new_job(t.id, None, 0), at(2))
        .await
        .unwrap()
        .id;
    assert_eq!(
        s.get_call_debug_pcap(None, elsewhere, second)
            .await
            .unwrap(),
        None
    );

    // Retention: strictly older than the cutoff goes, the rest stays.
    assert_eq!(s.purge_call_debug_before(at(10)).await.unwrap(), 0);
    assert_eq!(s.purge_call_debug_before(at(11)).await.unwrap(), 1);
    let left = s.list_call_debug(None, job).await.unwrap();
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), [second]);
    assert_eq!(s.purge_call_debug_before(at(1_000)).await.unwrap(), 1);
    assert!(s.list_call_debug(None, job).await.unwrap().is_empty());

    // Bundles go with their tenant.
    let gone = s.create_tenant(&tenant("Debug3"), at(0)).await.unwrap().id;
    let gone_job = s
        .create_job(&new_job(gone, None, 0), at(3))
        .await
        .unwrap()
        .id;
    s.save_call_debug(&bundle(gone, gone_job, leg::RECEIVE, 30, None))
        .await
        .unwrap();
    assert_eq!(s.list_call_debug(None, gone_job).await.unwrap().len(), 1);
    assert!(s.delete_tenant(gone).await.unwrap());
    assert!(s.list_call_debug(None, gone_job).await.unwrap().is_empty());

    switches(s, t.id).await;
}

async fn switches(s: &dyn Store, t: TenantId) {
    assert!(s.set_tenant_debug_pcap(t, true).await.unwrap());
    assert!(s.get_tenant(t).await.unwrap().unwrap().debug_pcap);
    assert!(s.set_tenant_debug_pcap(t, false).await.unwrap());
    assert!(!s.get_tenant(t).await.unwrap().unwrap().debug_pcap);
    assert!(!s
        .set_tenant_debug_pcap(TenantId(987_654), true)
        .await
        .unwrap());

    let g = s
        .create_gateway(&NewGateway {
            name: "debug-carrier".into(),
            uri: "sip:carrier.example.invalid".into(),
            transport: Transport::Udp,
            username: None,
            password: None,
            register: false,
            allowed_sources: vec![],
            tenant_id: None,
            t38_allowed: true,
        })
        .await
        .unwrap();
    assert!(!g.debug_pcap);
    assert!(s.set_gateway_debug_pcap(g.id, true).await.unwrap());
    assert!(s.get_gateway(g.id).await.unwrap().unwrap().debug_pcap);
    assert!(!s
        .set_gateway_debug_pcap(GatewayId(987_654), true)
        .await
        .unwrap());
}

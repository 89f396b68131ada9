//! Live-bridged calls (issue #6): a bridged call is an inbound job that is never queued, plus
//! its bridge row, read back by the owning tenant only.

use std::time::Duration;

use serde_json::json;
use store::*;

use super::{at, tenant};

fn bridge(t: TenantId, success: bool) -> NewBridge {
    NewBridge {
        tenant_id: t,
        caller: "+15551230001".into(),
        callee: "+15554440001".into(),
        direction: "downstream".into(),
        gateway: "pbx".into(),
        started_at: at(10),
        ended_at: at(70),
        duration_ms: 58_500,
        pages: success.then_some(3),
        success,
        result: if success {
            "fax completed".into()
        } else {
            "outbound leg not answered: 486".into()
        },
        detail: json!({"inbound": {"media": [{"media": "audio/PCMU", "from_ms": 0}]},
                       "outbound": {"media": [{"media": "t38/v0", "from_ms": 1200}]}}),
    }
}

/// Runs the checks.
pub async fn run(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Bridged"), at(0)).await.unwrap().id;
    let other = s
        .create_tenant(&tenant("Bridged2"), at(0))
        .await
        .unwrap()
        .id;

    let ok = s.record_bridge(&bridge(t, true)).await.unwrap();
    assert_eq!(ok.direction, Direction::Inbound);
    assert_eq!(ok.status, JobStatus::Done);
    assert_eq!(ok.document_id, None);
    assert_eq!(ok.created_at, at(10));
    assert_eq!(ok.updated_at, at(70));
    assert_eq!(ok.last_error, None);
    let row = s.get_bridge(t, ok.id).await.unwrap().expect("bridge row");
    assert_eq!(row.job_id, ok.id);
    assert_eq!(row.direction, "downstream");
    assert_eq!(row.gateway, "pbx");
    assert_eq!((row.started_at, row.ended_at), (at(10), at(70)));
    assert_eq!(row.duration_ms, 58_500);
    assert_eq!(row.pages, Some(3));
    assert!(row.success);
    assert_eq!(row.result, "fax completed");
    assert_eq!(row.detail, bridge(t, true).detail);
    assert_eq!(s.get_job(t, ok.id).await.unwrap(), Some(ok.clone()));

    let failed = s.record_bridge(&bridge(t, false)).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("outbound leg not answered: 486")
    );
    let row = s.get_bridge(t, failed.id).await.unwrap().unwrap();
    assert_eq!((row.pages, row.success), (None, false));

    // Another tenant sees nothing; a job that was not bridged has no row.
    assert_eq!(s.get_bridge(other, ok.id).await.unwrap(), None);
    let plain = s
        .create_job(
            &NewJob {
                tenant_id: t,
                direction: Direction::Outbound,
                caller: "+15551230001".into(),
                callee: "+15551230002".into(),
                document_id: None,
                priority: 0,
                not_before: at(0),
            },
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(s.get_bridge(t, plain.id).await.unwrap(), None);

    // Never queued: the queue does not claim a bridged call.
    while let Some(j) = s
        .claim_next_job("bridge-check", Duration::from_secs(60), at(100))
        .await
        .unwrap()
    {
        assert!(j.id != ok.id && j.id != failed.id, "bridged job claimed");
    }

    // Gone with the tenant.
    assert!(s.delete_tenant(t).await.unwrap());
    assert_eq!(s.get_bridge(t, ok.id).await.unwrap(), None);
}

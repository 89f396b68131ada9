//! The toll-fraud guard's storage: per-tenant dialing settings (defaults until set, replaced
//! by a second write, gone with the tenant) and the daily usage count over jobs.

use store::dialing::{DialingSettings, DEFAULT_DAILY_JOBS};
use store::*;

use super::queue::new_job;
use super::{at, t0, tenant};

/// Runs the checks in order.
pub async fn run(s: &dyn Store) {
    settings(s).await;
    usage(s).await;
}

async fn settings(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Dial"), t0()).await.unwrap().id;
    let other = s.create_tenant(&tenant("Dial2"), t0()).await.unwrap().id;
    let d = s.get_dialing(t).await.unwrap().expect("tenant exists");
    assert_eq!(d, DialingSettings::default());
    assert_eq!(d.daily_jobs, Some(DEFAULT_DAILY_JOBS));

    let custom = DialingSettings {
        home_country_code: "44".into(),
        allowed_prefixes: vec!["+1".into(), "+1900".into()],
        daily_jobs: None,
        daily_pages: Some(7),
    };
    assert!(s.set_dialing(t, &custom, at(1)).await.unwrap());
    assert_eq!(s.get_dialing(t).await.unwrap(), Some(custom.clone()));
    // Upsert: a second write replaces, and the other tenant keeps the defaults.
    let narrower = DialingSettings {
        allowed_prefixes: vec![],
        ..custom
    };
    assert!(s.set_dialing(t, &narrower, at(2)).await.unwrap());
    assert_eq!(s.get_dialing(t).await.unwrap(), Some(narrower));
    assert_eq!(
        s.get_dialing(other).await.unwrap(),
        Some(DialingSettings::default())
    );

    let bad = DialingSettings {
        allowed_prefixes: vec!["1900".into()],
        ..DialingSettings::default()
    };
    assert!(matches!(
        s.set_dialing(t, &bad, at(3)).await,
        Err(Error::Invalid { .. })
    ));

    let missing = TenantId(i64::MAX);
    assert_eq!(s.get_dialing(missing).await.unwrap(), None);
    assert!(!s
        .set_dialing(missing, &DialingSettings::default(), at(4))
        .await
        .unwrap());
    assert!(s.delete_tenant(t).await.unwrap());
    assert_eq!(s.get_dialing(t).await.unwrap(), None);
}

async fn usage(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Usage"), t0()).await.unwrap().id;
    let other = s.create_tenant(&tenant("Usage2"), t0()).await.unwrap().id;
    let doc = |tenant, pages| NewDocument {
        tenant_id: tenant,
        content_type: "image/tiff".into(),
        pages,
        data: b"tiff".to_vec(),
    };
    assert_eq!(
        s.outbound_usage_since(t, t0()).await.unwrap(),
        DailyUsage::default()
    );
    // Two jobs today (3 + 4 pages), one before `since`, one of another tenant, one inbound
    // and one without a document.
    s.submit_job(&doc(t, 2), &new_job(t, None, 0), None, at(-10))
        .await
        .unwrap();
    s.submit_job(&doc(t, 3), &new_job(t, None, 0), None, at(0))
        .await
        .unwrap();
    s.submit_job(&doc(t, 4), &new_job(t, None, 0), None, at(5))
        .await
        .unwrap();
    s.submit_job(&doc(other, 9), &new_job(other, None, 0), None, at(5))
        .await
        .unwrap();
    let inbound = NewJob {
        direction: Direction::Inbound,
        ..new_job(t, None, 0)
    };
    s.submit_job(&doc(t, 5), &inbound, None, at(6))
        .await
        .unwrap();
    s.create_job(&new_job(t, None, 0), at(7)).await.unwrap();
    assert_eq!(
        s.outbound_usage_since(t, t0()).await.unwrap(),
        DailyUsage { jobs: 3, pages: 7 }
    );
    assert_eq!(
        s.outbound_usage_since(other, t0()).await.unwrap(),
        DailyUsage { jobs: 1, pages: 9 }
    );
    assert_eq!(
        s.outbound_usage_since(t, at(8)).await.unwrap(),
        DailyUsage::default()
    );
}

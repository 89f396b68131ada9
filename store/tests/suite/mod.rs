//! The conformance suite every [`Store`] implementation must pass.

pub mod bridges;
pub mod debug;
pub mod deliveries;
pub mod dialing;
pub mod fax;
pub mod isolation;
pub mod queue;
pub mod routing;
pub mod stats;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;
use store::*;

/// A fixed start time: the store takes `now` from the caller, so tests need no real clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
        .single()
        .expect("valid time")
        + TimeDelta::microseconds(123_456)
}

/// `t0` plus some seconds.
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

/// A tenant with a name and no notify spec.
pub fn tenant(name: &str) -> NewTenant {
    NewTenant {
        name: name.into(),
        notify: String::new(),
    }
}

/// A tenant number from a NANP-style input.
pub fn number(input: &str) -> NewNumber {
    NewNumber {
        number: NumberRules::nanp().normalize(input).expect("valid number"),
        name: "Front desk".into(),
        header: "ACME".into(),
        notify: String::new(),
    }
}

/// Runs every conformance check on one fresh store.
pub async fn run(s: &dyn Store) {
    tenants_and_numbers(s).await;
    users_and_tokens(s).await;
    routing::endpoints(s).await;
    routing::gateways(s).await;
    documents_attempts_pages(s).await;
    queue::lifecycle(s).await;
    events(s).await;
    kv(s).await;
    isolation::run(s).await;
    fax::run(s).await;
    deliveries::run(s).await;
    stats::run(s).await;
    dialing::run(s).await;
    bridges::run(s).await;
    debug::run(s).await;
}

async fn tenants_and_numbers(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Acme"), t0()).await.unwrap();
    assert_eq!((t.name.as_str(), t.created_at), ("Acme", t0()));
    assert_eq!(s.get_tenant(t.id).await.unwrap(), Some(t.clone()));
    assert!(s
        .update_tenant(
            t.id,
            &NewTenant {
                name: "Acme Inc".into(),
                notify: "email_report".into()
            }
        )
        .await
        .unwrap());
    let t = s.get_tenant(t.id).await.unwrap().unwrap();
    assert_eq!(
        (t.name.as_str(), t.notify.as_str()),
        ("Acme Inc", "email_report")
    );
    assert!(s.list_tenants().await.unwrap().iter().any(|x| x.id == t.id));

    let n = s
        .create_number(t.id, &number("(212) 555-1234"))
        .await
        .unwrap();
    assert_eq!(n.number, "+12125551234");
    assert_eq!(s.get_number(t.id, n.id).await.unwrap(), Some(n.clone()));
    let e164 = E164::parse("+12125551234").unwrap();
    assert_eq!(
        s.find_number(&e164).await.unwrap().map(|x| x.tenant_id),
        Some(t.id)
    );
    // The same number in another spelling is the same number: a conflict.
    let dup = s.create_number(t.id, &number("12125551234")).await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    let mut upd = number("2125559999");
    upd.name = "Sales".into();
    assert!(s.update_number(t.id, n.id, &upd).await.unwrap());
    assert_eq!(
        s.get_number(t.id, n.id).await.unwrap().unwrap().number,
        "+12125559999"
    );
    assert_eq!(s.list_numbers(t.id).await.unwrap().len(), 1);
    assert!(s.delete_number(t.id, n.id).await.unwrap());
    assert!(!s.delete_number(t.id, n.id).await.unwrap());
    assert_eq!(s.find_number(&e164).await.unwrap(), None);

    // Deleting a tenant takes its numbers with it.
    let gone = s.create_tenant(&tenant("Gone"), t0()).await.unwrap();
    let gn = s
        .create_number(gone.id, &number("3105550000"))
        .await
        .unwrap();
    assert!(s.delete_tenant(gone.id).await.unwrap());
    assert_eq!(s.get_tenant(gone.id).await.unwrap(), None);
    assert_eq!(
        s.find_number(&E164::parse(&gn.number).unwrap())
            .await
            .unwrap(),
        None
    );
}

async fn users_and_tokens(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Users"), t0()).await.unwrap();
    let u = s
        .create_user(t.id, "alice", "correct horse", t0())
        .await
        .unwrap();
    assert_eq!(u.username, "alice");
    assert_eq!(s.get_user(t.id, u.id).await.unwrap(), Some(u.clone()));
    let dup = s.create_user(t.id, "alice", "x", t0()).await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    assert_eq!(
        s.verify_user_password("alice", "correct horse")
            .await
            .unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        s.verify_user_password("alice", "wrong").await.unwrap(),
        None
    );
    assert_eq!(
        s.verify_user_password("nobody", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert!(s.set_password(t.id, u.id, "battery staple").await.unwrap());
    assert_eq!(
        s.verify_user_password("alice", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert!(s
        .verify_user_password("alice", "battery staple")
        .await
        .unwrap()
        .is_some());
    // The hash never leaves the store: not in the record, not in its JSON.
    let j = serde_json::to_string(&u).unwrap();
    assert!(!j.contains("argon2") && !j.contains("password"), "{j}");
    assert!(s.rename_user(t.id, u.id, "alice2").await.unwrap());
    assert_eq!(s.list_users(t.id).await.unwrap()[0].username, "alice2");

    let (tok, plain) = s
        .create_token(t.id, u.id, "ci", t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tok.user_id, u.id);
    assert_eq!(
        s.user_by_token(&plain).await.unwrap().map(|x| x.id),
        Some(u.id)
    );
    assert_eq!(s.user_by_token("fxs_not-a-token").await.unwrap(), None);
    assert_eq!(s.list_tokens(t.id, u.id).await.unwrap(), vec![tok.clone()]);
    assert!(s.delete_token(t.id, tok.id).await.unwrap());
    assert_eq!(s.user_by_token(&plain).await.unwrap(), None);

    let (_, plain2) = s
        .create_token(t.id, u.id, "again", t0())
        .await
        .unwrap()
        .unwrap();
    assert!(s.delete_user(t.id, u.id).await.unwrap());
    assert_eq!(
        s.user_by_token(&plain2).await.unwrap(),
        None,
        "tokens go with their user"
    );
    assert_eq!(
        s.verify_user_password("alice2", "battery staple")
            .await
            .unwrap(),
        None
    );
}

async fn documents_attempts_pages(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Docs"), t0()).await.unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let d = s
        .create_document(
            &NewDocument {
                tenant_id: t.id,
                content_type: "image/tiff".into(),
                pages: 2,
                data: data.clone(),
            },
            t0(),
        )
        .await
        .unwrap();
    let doc = s.get_document(t.id, d).await.unwrap().unwrap();
    assert_eq!(
        (doc.data, doc.pages, doc.content_type.as_str()),
        (data, 2, "image/tiff")
    );

    let job = s
        .create_job(&queue::new_job(t.id, Some(d), 0), t0())
        .await
        .unwrap();
    let a = s
        .start_attempt(&NewAttempt {
            job_id: job.id,
            endpoint_id: None,
            gateway_id: None,
            started_at: at(1),
        })
        .await
        .unwrap();
    assert_eq!((a.ended_at, a.result_code), (None, None));
    for page in 1..=2 {
        s.add_page_result(&NewPageResult {
            attempt_id: a.id,
            page,
            result_code: 0,
            bad_rows: page - 1,
            detail: "T.4 2D".into(),
        })
        .await
        .unwrap();
    }
    let outcome = AttemptOutcome {
        ended_at: at(60),
        result_code: 0,
        result_text: "OK".into(),
        pages: 2,
    };
    assert!(s.finish_attempt(a.id, &outcome).await.unwrap());
    let list = s.list_attempts(t.id, job.id).await.unwrap();
    assert_eq!(
        (list.len(), list[0].ended_at, list[0].pages),
        (1, Some(at(60)), 2)
    );
    let pages = s.list_page_results(t.id, a.id).await.unwrap();
    assert_eq!(
        pages
            .iter()
            .map(|p| (p.page, p.bad_rows))
            .collect::<Vec<_>>(),
        vec![(1, 0), (2, 1)]
    );

    // Retention: old documents go; a job keeps running without its document.
    assert_eq!(s.delete_documents_before(at(10)).await.unwrap(), 1);
    assert_eq!(s.get_document(t.id, d).await.unwrap(), None);
    assert_eq!(
        s.get_job(t.id, job.id).await.unwrap().unwrap().document_id,
        None
    );
    let d2 = s
        .create_document(
            &NewDocument {
                tenant_id: t.id,
                content_type: "application/pdf".into(),
                pages: 1,
                data: vec![],
            },
            t0(),
        )
        .await
        .unwrap();
    assert!(s.delete_document(t.id, d2).await.unwrap());
    assert!(!s.delete_document(t.id, d2).await.unwrap());
}

async fn events(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Events"), t0()).await.unwrap();
    let job = s
        .create_job(&queue::new_job(t.id, None, 0), t0())
        .await
        .unwrap();
    let e1 = s
        .append_event(&NewEvent {
            at: at(1),
            tenant_id: Some(t.id),
            job_id: Some(job.id),
            kind: "job.queued".into(),
            detail: json!({"callee": "+12125551234"}),
        })
        .await
        .unwrap();
    s.append_event(&NewEvent {
        at: at(2),
        tenant_id: Some(t.id),
        job_id: None,
        kind: "user.login".into(),
        detail: json!({}),
    })
    .await
    .unwrap();
    s.append_event(&NewEvent {
        at: at(3),
        tenant_id: None,
        job_id: None,
        kind: "system.start".into(),
        detail: json!([1, 2]),
    })
    .await
    .unwrap();
    assert_eq!(e1.detail["callee"], "+12125551234");
    let by_tenant = s.list_events(Some(t.id), None, 100).await.unwrap();
    assert_eq!(
        by_tenant
            .iter()
            .map(|e| e.kind.as_str())
            .collect::<Vec<_>>(),
        vec!["job.queued", "user.login"]
    );
    assert_eq!(
        s.list_events(Some(t.id), Some(job.id), 100).await.unwrap(),
        vec![e1.clone()]
    );
    assert!(s.list_events(None, None, 100).await.unwrap().len() >= 3);
    assert_eq!(s.list_events(None, None, 1).await.unwrap().len(), 1);
}

async fn kv(s: &dyn Store) {
    s.kv_set("fallback", "+12125551234", "1", Some(at(60)))
        .await
        .unwrap();
    s.kv_set("fallback", "+12125559999", "1", None)
        .await
        .unwrap();
    s.kv_set("fallback", "+4420", "1", None).await.unwrap();
    s.kv_set("override-+1212", "x%_y", "t38", None)
        .await
        .unwrap();
    assert_eq!(
        s.kv_get("fallback", "+12125551234", at(59))
            .await
            .unwrap()
            .map(|e| e.value),
        Some("1".into())
    );
    assert_eq!(
        s.kv_get("fallback", "+12125551234", at(60)).await.unwrap(),
        None,
        "expired is invisible"
    );
    let keys = |v: Vec<KvEntry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
    assert_eq!(
        keys(s.kv_list("fallback", "+1212", at(0)).await.unwrap()),
        vec!["+12125551234", "+12125559999"]
    );
    assert_eq!(
        keys(s.kv_list("fallback", "+1212", at(61)).await.unwrap()),
        vec!["+12125559999"]
    );
    assert_eq!(
        keys(s.kv_list("fallback", "", at(61)).await.unwrap()).len(),
        2
    );
    assert_eq!(
        keys(s.kv_list("override-+1212", "x%", at(0)).await.unwrap()),
        vec!["x%_y"]
    );
    assert!(
        s.kv_list("override-+1212", "x_", at(0))
            .await
            .unwrap()
            .is_empty(),
        "prefix is literal, not LIKE"
    );
    s.kv_set("fallback", "+12125559999", "0", Some(at(5)))
        .await
        .unwrap();
    assert_eq!(
        s.kv_get("fallback", "+12125559999", at(0))
            .await
            .unwrap()
            .map(|e| (e.value, e.expires_at)),
        Some(("0".into(), Some(at(5))))
    );
    assert_eq!(s.kv_purge_expired(at(100)).await.unwrap(), 2);
    assert!(s.kv_delete("fallback", "+4420").await.unwrap());
    assert!(!s.kv_delete("fallback", "+4420").await.unwrap());
}

//! mod_db emulation feeding the engine's T.38 policy: what a tool writes through the Event
//! Socket (`db insert/override-<number>/…`, `db insert/fallback/<number>/…`) is what
//! `engine::policy::persist` reads, with fallback entries expiring after the configured
//! period.

mod common;

use chrono::{Duration, Utc};
use common::{fixture_with, RawClient};
use engine::call::FaxDirection;
use engine::policy::persist::{list_fallbacks, load_history, load_overrides, Parties};
use fs_compat::EslConfig;

#[tokio::test]
async fn override_written_over_esl_is_read_by_the_policy() {
    let fx = fixture_with(true, EslConfig::default()).await;
    let mut c = RawClient::authenticated(&fx).await;
    for cmd in [
        "api db insert/override-5551234/fax_enable_t38/false",
        "api db insert/override-5551234/fax_use_ecm/true",
        "api db insert/override-5551234/fax_ident/ACME FAX",
    ] {
        assert_eq!(c.command(cmd).await.body, "+OK");
    }
    let overrides = load_overrides(fx.store.as_ref(), "5551234", Utc::now())
        .await
        .unwrap();
    assert_eq!(overrides.enable_t38, Some(false));
    assert_eq!(overrides.use_ecm, Some(true));
    assert_eq!(overrides.ident.as_deref(), Some("ACME FAX"));
    assert!(overrides.invalid.is_empty());
    // And the other way: the policy's entries are visible to `db`.
    assert_eq!(
        c.command("api db list/override-5551234").await.body,
        "fax_enable_t38,fax_ident,fax_use_ecm"
    );
}

#[tokio::test]
async fn fallback_written_over_esl_expires_as_configured() {
    let fx = fixture_with(
        true,
        EslConfig {
            fallback_ttl: Some(Duration::hours(1)),
            ..EslConfig::default()
        },
    )
    .await;
    let mut c = RawClient::authenticated(&fx).await;
    let now = Utc::now();
    let since = now.timestamp();
    assert_eq!(
        c.command(&format!("api db insert/fallback/15551234/{since}"))
            .await
            .body,
        "+OK"
    );
    assert_eq!(
        c.command("api db exists/fallback/15551234").await.body,
        "true"
    );
    let parties = Parties {
        caller: "15550001".to_owned(),
        callee: "15551234".to_owned(),
        direction: FaxDirection::Send,
    };
    let history = load_history(fx.store.as_ref(), &parties, now)
        .await
        .unwrap();
    let fallback = history.fallback.expect("fallback active");
    assert_eq!(fallback.since.map(|t| t.timestamp()), Some(since));
    let until = fallback.until.expect("expires");
    assert!(until > now + Duration::minutes(59) && until <= now + Duration::minutes(61));
    let later = now + Duration::hours(2);
    assert!(load_history(fx.store.as_ref(), &parties, later)
        .await
        .unwrap()
        .fallback
        .is_none());
    assert_eq!(
        list_fallbacks(fx.store.as_ref(), now).await.unwrap().len(),
        1
    );
    // Other realms never expire, as in FreeSWITCH.
    assert_eq!(
        c.command("api db insert/override-1/fax_use_ecm/false")
            .await
            .body,
        "+OK"
    );
    let far = now + Duration::days(3650);
    assert_eq!(
        load_overrides(fx.store.as_ref(), "1", far)
            .await
            .unwrap()
            .use_ecm,
        Some(false)
    );
    assert_eq!(
        c.command("api db delete/fallback/15551234").await.body,
        "+OK"
    );
    assert_eq!(
        c.command("api db exists/fallback/15551234").await.body,
        "false"
    );
}

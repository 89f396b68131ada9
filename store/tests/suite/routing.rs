//! Endpoints and SIP gateways.

use store::*;

use super::{number, t0, tenant};

/// Endpoint CRUD, scopes, priorities and gofaxserver JSON keys.
pub async fn endpoints(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Endpoints"), t0()).await.unwrap();
    let n = s.create_number(t.id, &number("4155550100")).await.unwrap();
    let ep = |scope, scope_id, kind, target: &str, priority, bridge| NewEndpoint {
        scope,
        scope_id,
        endpoint_type: kind,
        target: target.into(),
        priority,
        bridge,
    };
    let a = s
        .create_endpoint(
            Some(t.id),
            &ep(
                Scope::Tenant,
                t.id.0,
                EndpointKind::Gateway,
                "pbx:10.0.0.1",
                PRIORITY_LAST,
                false,
            ),
        )
        .await
        .unwrap();
    let b = s
        .create_endpoint(
            Some(t.id),
            &ep(
                Scope::Number,
                n.id.0,
                EndpointKind::Webhook,
                "https://example.com/h",
                1,
                false,
            ),
        )
        .await
        .unwrap();
    let c = s
        .create_endpoint(
            Some(t.id),
            &ep(
                Scope::Tenant,
                t.id.0,
                EndpointKind::Email,
                "fax@example.com",
                PRIORITY_NEVER,
                true,
            ),
        )
        .await
        .unwrap();
    let g = s
        .create_endpoint(
            None,
            &ep(Scope::Global, 0, EndpointKind::Gateway, "carrier", 0, false),
        )
        .await
        .unwrap();
    assert_eq!(
        s.get_endpoint(Some(t.id), b.id).await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(s.get_endpoint(None, g.id).await.unwrap(), Some(g.clone()));
    assert_eq!(
        s.get_endpoint(None, a.id).await.unwrap(),
        None,
        "tenant endpoint is not global"
    );
    assert_eq!(
        s.get_endpoint(Some(t.id), g.id).await.unwrap(),
        None,
        "global is not the tenant's"
    );
    assert!(!c.is_deliverable() && a.is_deliverable());
    let mut list = s.list_endpoints(Some(t.id)).await.unwrap();
    list.sort_by_key(Endpoint::delivery_order);
    assert_eq!(
        list.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![b.id, c.id, a.id],
        "999 after everything, even 666"
    );
    assert_eq!(s.list_endpoints(None).await.unwrap(), vec![g.clone()]);
    // gofaxserver's JSON keys.
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(
        (
            j["type"].as_str(),
            j["type_id"].as_i64(),
            j["endpoint_type"].as_str(),
            j["endpoint"].as_str()
        ),
        (
            Some("tenant"),
            Some(t.id.0),
            Some("gateway"),
            Some("pbx:10.0.0.1")
        )
    );
    // Scope must match the owner.
    assert!(s
        .create_endpoint(
            None,
            &ep(Scope::Tenant, t.id.0, EndpointKind::Gateway, "x", 1, false)
        )
        .await
        .is_err());
    assert!(s
        .create_endpoint(
            Some(t.id),
            &ep(
                Scope::Tenant,
                t.id.0 + 1000,
                EndpointKind::Gateway,
                "x",
                1,
                false
            )
        )
        .await
        .is_err());
    assert!(s
        .create_endpoint(
            Some(t.id),
            &ep(Scope::Number, 999_999, EndpointKind::Gateway, "x", 1, false)
        )
        .await
        .is_err());
    assert!(s
        .update_endpoint(
            Some(t.id),
            a.id,
            &ep(
                Scope::Tenant,
                t.id.0,
                EndpointKind::Gateway,
                "pbx:10.0.0.2",
                5,
                true
            )
        )
        .await
        .unwrap());
    let a2 = s.get_endpoint(Some(t.id), a.id).await.unwrap().unwrap();
    assert_eq!(
        (a2.target.as_str(), a2.priority, a2.bridge),
        ("pbx:10.0.0.2", 5, true)
    );
    assert!(s.delete_endpoint(Some(t.id), a.id).await.unwrap());
    assert!(!s.delete_endpoint(None, b.id).await.unwrap());
    assert!(s.delete_endpoint(None, g.id).await.unwrap());
}

/// Gateway CRUD; the stored password is never serialised.
pub async fn gateways(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Gw"), t0()).await.unwrap();
    let mut new = NewGateway {
        name: "carrier-a".into(),
        uri: "sip:carrier.example.com:5060".into(),
        transport: Transport::Udp,
        username: Some("acct".into()),
        password: Some("pw".into()),
        register: true,
        allowed_sources: vec!["203.0.113.0/24".into(), "198.51.100.7".into()],
        tenant_id: None,
        t38_allowed: true,
    };
    let g = s.create_gateway(&new).await.unwrap();
    assert_eq!(
        (g.allowed_sources.len(), g.password.as_deref(), g.transport),
        (2, Some("pw"), Transport::Udp)
    );
    assert_eq!(s.get_gateway(g.id).await.unwrap(), Some(g.clone()));
    assert_eq!(
        s.get_gateway_by_name("carrier-a").await.unwrap(),
        Some(g.clone())
    );
    assert!(!serde_json::to_string(&g).unwrap().contains("\"password\""));
    assert!(matches!(
        s.create_gateway(&new).await,
        Err(Error::Conflict(_))
    ));
    new.transport = Transport::Tls;
    new.tenant_id = Some(t.id);
    new.t38_allowed = false;
    new.allowed_sources.clear();
    assert!(s.update_gateway(g.id, &new).await.unwrap());
    let g2 = s.get_gateway(g.id).await.unwrap().unwrap();
    assert_eq!(
        (
            g2.transport,
            g2.tenant_id,
            g2.t38_allowed,
            g2.allowed_sources.len()
        ),
        (Transport::Tls, Some(t.id), false, 0)
    );
    assert_eq!(s.list_gateways().await.unwrap().len(), 1);
    assert!(s.delete_gateway(g.id).await.unwrap());
    assert_eq!(s.get_gateway(g.id).await.unwrap(), None);
}

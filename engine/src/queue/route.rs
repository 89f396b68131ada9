//! Where a job is delivered: the ordered list of gateway endpoints to try.
//!
//! gofaxserver's rules (behaviour §4.3, §4.5), with its fixes (design.md §6):
//! - a callee that is one of our tenants' numbers gets that number's endpoints, or else its
//!   tenant's; priority 666 is never delivered to; the rest go in ascending priority with 999
//!   last, and equal priorities keep their order (the store lists by id);
//! - any other callee goes out through the global (upstream) gateway endpoints, in the same
//!   order;
//! - a fax received for one of our numbers whose tenant has no endpoint is kept in the store
//!   for the API, never sent back out upstream (gofaxserver looped it back);
//! - webhook and e-mail endpoints are delivered by a later part of the queue
//!   ([`Route::deferred`] says which were skipped); only gateways are dialled here.

use store::{Direction, Endpoint, EndpointKind, Gateway, Scope, Store, TenantNumber};

/// One gateway endpoint to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Stable name of the target in the job's attempt records (`endpoint:<id>`).
    pub key: String,
    /// Whose pages it delivers to: every upstream reaches the same callee, so pages one
    /// confirmed count for the others (`callee:<number>`); a tenant endpoint is its own.
    pub destination: String,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The gateway it names.
    pub gateway: Gateway,
}

/// The targets of a job, in the order to try them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Gateways to dial, in order.
    pub targets: Vec<Target>,
    /// The callee is one of our numbers: a job with no target is kept, not failed.
    pub local_callee: bool,
    /// Deliverable endpoints that are not gateways (webhook, e-mail), left for their worker.
    pub deferred: Vec<Endpoint>,
    /// Gateway endpoints naming a gateway that does not exist.
    pub unknown_gateways: Vec<String>,
}

/// Deliverable endpoints in delivery order: 666 dropped, ascending priority, 999 last, ties
/// in the order given.
pub fn delivery_order(endpoints: impl IntoIterator<Item = Endpoint>) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = endpoints
        .into_iter()
        .filter(Endpoint::is_deliverable)
        .collect();
    // A stable sort keeps equal priorities in list order.
    out.sort_by_key(Endpoint::delivery_order);
    out
}

/// Picks the endpoints for a callee: the number's, else its tenant's, else (outbound only)
/// the global ones. `owned` is the callee's number record, if one of our tenants has it;
/// `tenant_endpoints` are that tenant's (number and tenant scope).
pub fn select_endpoints(
    direction: Direction,
    owned: Option<&TenantNumber>,
    tenant_endpoints: &[Endpoint],
    global_endpoints: &[Endpoint],
) -> Vec<Endpoint> {
    if let Some(number) = owned {
        let of_number = delivery_order(
            tenant_endpoints
                .iter()
                .filter(|e| e.scope == Scope::Number && e.scope_id == number.id.0)
                .cloned(),
        );
        if !of_number.is_empty() {
            return of_number;
        }
        let of_tenant = delivery_order(
            tenant_endpoints
                .iter()
                .filter(|e| e.scope == Scope::Tenant && e.scope_id == number.tenant_id.0)
                .cloned(),
        );
        if !of_tenant.is_empty() || direction == Direction::Inbound {
            return of_tenant;
        }
    }
    delivery_order(
        global_endpoints
            .iter()
            .filter(|e| e.scope == Scope::Global && e.endpoint_type == EndpointKind::Gateway)
            .cloned(),
    )
}

/// The gateway name an endpoint's target names: ours is the name itself; gofaxserver wrote
/// `<name>:<source ip>`, so the part before the first `:` is tried too.
pub fn gateway_names(target: &str) -> Vec<&str> {
    let mut names = vec![target.trim()];
    if let Some((name, _)) = target.split_once(':') {
        if !name.trim().is_empty() {
            names.push(name.trim());
        }
    }
    names
}

/// Builds the route of a job from the store.
pub async fn load_route(
    store: &dyn Store,
    direction: Direction,
    callee: &str,
) -> store::Result<Route> {
    let owned = match store::E164::parse(callee) {
        Ok(n) => store.find_number(&n).await?,
        Err(_) => None,
    };
    let tenant_endpoints = match &owned {
        Some(n) => store.list_endpoints(Some(n.tenant_id)).await?,
        None => Vec::new(),
    };
    let global = store.list_endpoints(None).await?;
    let chosen = select_endpoints(direction, owned.as_ref(), &tenant_endpoints, &global);
    let mut route = Route {
        local_callee: owned.is_some(),
        ..Route::default()
    };
    for endpoint in chosen {
        if endpoint.endpoint_type != EndpointKind::Gateway {
            route.deferred.push(endpoint);
            continue;
        }
        let mut gateway = None;
        for name in gateway_names(&endpoint.target) {
            if let Some(g) = store.get_gateway_by_name(name).await? {
                gateway = Some(g);
                break;
            }
        }
        let Some(gateway) = gateway else {
            route.unknown_gateways.push(endpoint.target.clone());
            continue;
        };
        let destination = if endpoint.scope == Scope::Global {
            format!("callee:{callee}")
        } else {
            format!("endpoint:{}", endpoint.id)
        };
        route.targets.push(Target {
            key: format!("endpoint:{}", endpoint.id),
            destination,
            endpoint,
            gateway,
        });
    }
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{EndpointId, NumberId, TenantId};

    fn ep(id: i64, scope: Scope, scope_id: i64, kind: EndpointKind, priority: i64) -> Endpoint {
        Endpoint {
            id: EndpointId(id),
            tenant_id: (scope != Scope::Global).then_some(TenantId(1)),
            scope,
            scope_id,
            endpoint_type: kind,
            target: format!("gw{id}"),
            priority,
            bridge: false,
        }
    }

    fn ids(eps: &[Endpoint]) -> Vec<i64> {
        eps.iter().map(|e| e.id.0).collect()
    }

    #[test]
    fn priorities_666_never_999_last_ties_in_order() {
        use EndpointKind::Gateway as G;
        use Scope::Global as S;
        let eps = vec![
            ep(1, S, 0, G, 999),
            ep(2, S, 0, G, 10),
            ep(3, S, 0, G, 666),
            ep(4, S, 0, G, 1000),
            ep(5, S, 0, G, 10),
            ep(6, S, 0, G, 1),
        ];
        assert_eq!(ids(&delivery_order(eps)), vec![6, 2, 5, 4, 1]);
    }

    #[test]
    fn number_then_tenant_then_upstream() {
        use EndpointKind::{Gateway as G, Webhook as W};
        let number = TenantNumber {
            id: NumberId(7),
            tenant_id: TenantId(1),
            number: "+15551230001".into(),
            name: String::new(),
            header: String::new(),
            notify: String::new(),
        };
        let global = vec![
            ep(90, Scope::Global, 0, G, 5),
            ep(91, Scope::Global, 0, W, 1),
        ];
        let tenant = vec![
            ep(10, Scope::Tenant, 1, G, 2),
            ep(11, Scope::Number, 7, G, 3),
            ep(12, Scope::Number, 8, G, 1),
            ep(13, Scope::Number, 7, W, 1),
        ];
        use Direction::{Inbound as In, Outbound as Out};
        let pick = |d, owned: Option<&TenantNumber>, t: &[Endpoint]| {
            ids(&select_endpoints(d, owned, t, &global))
        };
        // The number's own endpoints win, of every kind.
        assert_eq!(pick(Out, Some(&number), &tenant), vec![13, 11]);
        // Without them, the tenant's.
        assert_eq!(pick(Out, Some(&number), &tenant[..1]), vec![10]);
        // A number whose endpoints are all 666 counts as having none.
        let never = vec![ep(14, Scope::Number, 7, G, 666), tenant[0].clone()];
        assert_eq!(pick(Out, Some(&number), &never), vec![10]);
        // A tenant number with no endpoint: outbound goes upstream, inbound stays here.
        assert_eq!(pick(Out, Some(&number), &[]), vec![90]);
        assert!(pick(In, Some(&number), &[]).is_empty());
        // Not our number: upstream gateways only.
        assert_eq!(pick(Out, None, &tenant), vec![90]);
    }

    #[test]
    fn gofaxserver_endpoint_strings_name_their_gateway() {
        assert_eq!(gateway_names("carrier"), vec!["carrier"]);
        assert_eq!(
            gateway_names("carrier:192.0.2.1"),
            vec!["carrier:192.0.2.1", "carrier"]
        );
        assert_eq!(gateway_names(":192.0.2.1"), vec![":192.0.2.1"]);
    }
}

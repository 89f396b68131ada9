//! Whether an incoming call is bridged live instead of received (issue #6 item 4), with the
//! meaning the endpoint `bridge` flag had in gofaxserver (behaviour §4.4):
//!
//! - a call from an upstream carrier to a number whose delivery endpoints (666 excluded)
//!   include a `bridge` gateway endpoint goes live to that tenant gateway (downstream);
//! - a call from a tenant gateway whose own endpoint has `bridge` set goes to the callee's
//!   bridge gateway endpoint if it has one (downstream), else to the upstream carriers in
//!   priority order, one after another (upstream; gofaxserver rang them all at once, which
//!   design.md fixes);
//! - everything else is stored and forwarded as before.
//!
//! The decision is [`decide`], a pure function; [`load_decision`] feeds it from the store and
//! `bridging_run` carries the call out.

use store::{Endpoint, EndpointKind, Gateway, Scope, Store, TenantNumber};

use super::route::{delivery_order, gateway_names, select_endpoints};

/// Which way a bridged call goes, as gofaxserver recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeDirection {
    /// Towards a tenant gateway (carrier to PBX, or PBX to another bridge tenant).
    Downstream,
    /// Towards the upstream carriers.
    Upstream,
}

impl BridgeDirection {
    /// `downstream` or `upstream`.
    pub fn as_str(self) -> &'static str {
        match self {
            BridgeDirection::Downstream => "downstream",
            BridgeDirection::Upstream => "upstream",
        }
    }
}

/// What to do with an incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeDecision {
    /// Receive it and queue the document, as for any other fax.
    StoreAndForward,
    /// Bridge it to these gateways (by name), tried in order until one answers.
    Bridge {
        /// Downstream or upstream.
        direction: BridgeDirection,
        /// Gateway names, in the order to try them.
        gateways: Vec<String>,
    },
}

/// The gateway a call came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its name.
    pub name: String,
    /// True for an upstream carrier (a gateway with no tenant).
    pub upstream: bool,
}

impl Source {
    /// The source a gateway record describes.
    pub fn of(gateway: &Gateway) -> Source {
        Source {
            name: gateway.name.clone(),
            upstream: gateway.tenant_id.is_none(),
        }
    }
}

/// True when a gateway endpoint names the gateway `name`. Exact match on the name (or on
/// the part before `:` of gofaxserver's `<name>:<ip>` targets): gofaxserver matched the
/// source by substring over `"<type>/<endpoint>"` in random map order, so `pbx1` also
/// matched `pbx10`'s endpoint.
fn names(endpoint: &Endpoint, name: &str) -> bool {
    endpoint.endpoint_type == EndpointKind::Gateway
        && gateway_names(&endpoint.target).contains(&name)
}

/// The first bridge gateway endpoint among the callee's deliverable endpoints.
fn bridge_target(callee_endpoints: &[Endpoint]) -> Option<String> {
    delivery_order(callee_endpoints.iter().cloned())
        .into_iter()
        .find(|e| e.bridge && e.endpoint_type == EndpointKind::Gateway)
        .map(|e| {
            gateway_names(&e.target)
                .last()
                .map_or(String::new(), |n| (*n).to_owned())
        })
}

/// Decides for a call from `source`. `callee_endpoints` are the callee number's delivery
/// endpoints (its number's, else its tenant's; empty when the number is not ours);
/// `source_endpoints` are the endpoints of the source gateway's tenant (666 included: such
/// an endpoint identifies a source without being delivered to); `global` are the global
/// endpoints, whose gateways are the upstream carriers.
pub fn decide(
    source: Option<&Source>,
    callee_endpoints: &[Endpoint],
    source_endpoints: &[Endpoint],
    global: &[Endpoint],
) -> BridgeDecision {
    let Some(source) = source else {
        return BridgeDecision::StoreAndForward;
    };
    let downstream = bridge_target(callee_endpoints).filter(|g| *g != source.name);
    if source.upstream {
        return match downstream {
            Some(g) => BridgeDecision::Bridge {
                direction: BridgeDirection::Downstream,
                gateways: vec![g],
            },
            None => BridgeDecision::StoreAndForward,
        };
    }
    let bridged_source = source_endpoints
        .iter()
        .any(|e| e.bridge && names(e, &source.name));
    if !bridged_source {
        return BridgeDecision::StoreAndForward;
    }
    if let Some(g) = downstream {
        return BridgeDecision::Bridge {
            direction: BridgeDirection::Downstream,
            gateways: vec![g],
        };
    }
    let mut upstream: Vec<String> = Vec::new();
    for e in delivery_order(global.iter().cloned()) {
        if e.scope != Scope::Global || e.endpoint_type != EndpointKind::Gateway {
            continue;
        }
        let name = gateway_names(&e.target)
            .last()
            .map_or(String::new(), |n| (*n).to_owned());
        if !name.is_empty() && name != source.name && !upstream.contains(&name) {
            upstream.push(name);
        }
    }
    if upstream.is_empty() {
        // Nowhere to bridge to: receiving at least keeps the fax for the API.
        return BridgeDecision::StoreAndForward;
    }
    BridgeDecision::Bridge {
        direction: BridgeDirection::Upstream,
        gateways: upstream,
    }
}

/// Reads what [`decide`] needs from the store and decides for a call from `source` to
/// `callee` (our number's record, if it is one).
pub async fn load_decision(
    store: &dyn Store,
    source: &Gateway,
    callee: Option<&TenantNumber>,
) -> store::Result<BridgeDecision> {
    let callee_endpoints = match callee {
        Some(n) => {
            let of_tenant = store.list_endpoints(Some(n.tenant_id)).await?;
            select_endpoints(store::Direction::Inbound, Some(n), &of_tenant, &[])
        }
        None => Vec::new(),
    };
    let source_endpoints = match source.tenant_id {
        Some(t) => store.list_endpoints(Some(t)).await?,
        None => Vec::new(),
    };
    let global = store.list_endpoints(None).await?;
    Ok(decide(
        Some(&Source::of(source)),
        &callee_endpoints,
        &source_endpoints,
        &global,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{EndpointId, TenantId};

    fn ep(scope: Scope, target: &str, priority: i64, bridge: bool) -> Endpoint {
        Endpoint {
            id: EndpointId(priority),
            tenant_id: (scope != Scope::Global).then_some(TenantId(1)),
            scope,
            scope_id: if scope == Scope::Global { 0 } else { 1 },
            endpoint_type: EndpointKind::Gateway,
            target: target.into(),
            priority,
            bridge,
        }
    }

    fn webhook(bridge: bool) -> Endpoint {
        Endpoint {
            endpoint_type: EndpointKind::Webhook,
            ..ep(Scope::Number, "https://example.com/hook", 1, bridge)
        }
    }

    fn src(name: &str, upstream: bool) -> Source {
        Source {
            name: name.into(),
            upstream,
        }
    }

    fn down(g: &str) -> BridgeDecision {
        BridgeDecision::Bridge {
            direction: BridgeDirection::Downstream,
            gateways: vec![g.into()],
        }
    }

    fn up(gs: &[&str]) -> BridgeDecision {
        BridgeDecision::Bridge {
            direction: BridgeDirection::Upstream,
            gateways: gs.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// Name, source, callee endpoints, source endpoints, expected decision.
    type Case<'a> = (
        &'a str,
        Option<&'a Source>,
        &'a [Endpoint],
        &'a [Endpoint],
        BridgeDecision,
    );

    #[test]
    fn decisions_follow_gofaxserver_semantics() {
        let carrier = src("carrier", true);
        let pbx = src("pbx1", false);
        let globals = vec![
            ep(Scope::Global, "carrier-b", 999, false),
            ep(Scope::Global, "carrier-a", 10, false),
            ep(Scope::Global, "carrier-c", 1000, false),
            ep(Scope::Global, "carrier-never", 666, false),
        ];
        let pbx_bridged = vec![ep(Scope::Tenant, "pbx1", 666, true)];
        let pbx_plain = vec![ep(Scope::Tenant, "pbx1", 1, false)];
        let callee_bridge = vec![
            ep(Scope::Number, "plain", 1, false),
            ep(Scope::Number, "pbx2:10.0.0.2", 2, true),
        ];
        let callee_bridge_666 = vec![ep(Scope::Number, "pbx2", 666, true)];
        let callee_plain = vec![ep(Scope::Number, "pbx2", 1, false), webhook(true)];
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("unknown source", None, &callee_bridge, &pbx_bridged, BridgeDecision::StoreAndForward),
            ("carrier to a bridge number", Some(&carrier), &callee_bridge, &[], down("pbx2")),
            ("carrier to a plain number", Some(&carrier), &callee_plain, &[], BridgeDecision::StoreAndForward),
            ("carrier: 666 is never a destination", Some(&carrier), &callee_bridge_666, &[], BridgeDecision::StoreAndForward),
            ("carrier to a number not ours", Some(&carrier), &[], &[], BridgeDecision::StoreAndForward),
            ("bridge PBX to a bridge tenant", Some(&pbx), &callee_bridge, &pbx_bridged, down("pbx2")),
            ("bridge PBX elsewhere: upstreams in priority order, 999 last", Some(&pbx), &callee_plain, &pbx_bridged, up(&["carrier-a", "carrier-c", "carrier-b"])),
            ("bridge PBX to a number not ours", Some(&pbx), &[], &pbx_bridged, up(&["carrier-a", "carrier-c", "carrier-b"])),
            ("plain PBX", Some(&pbx), &callee_bridge, &pbx_plain, BridgeDecision::StoreAndForward),
        ];
        for (name, source, callee, source_eps, want) in cases {
            assert_eq!(decide(source, callee, source_eps, &globals), want, "{name}");
        }
    }

    #[test]
    fn the_source_gateway_matches_exactly() {
        // gofaxserver's substring match took pbx10's endpoint for pbx1.
        let source_eps = vec![ep(Scope::Tenant, "pbx10", 1, true)];
        let globals = vec![ep(Scope::Global, "carrier", 1, false)];
        let pbx1 = src("pbx1", false);
        assert_eq!(
            decide(Some(&pbx1), &[], &source_eps, &globals),
            BridgeDecision::StoreAndForward
        );
        let pbx10 = src("pbx10", false);
        assert_eq!(
            decide(Some(&pbx10), &[], &source_eps, &globals),
            up(&["carrier"])
        );
        // gofaxserver's `<name>:<ip>` form names the gateway before the colon.
        let old_form = vec![ep(Scope::Tenant, "pbx1:10.0.0.1", 1, true)];
        assert_eq!(
            decide(Some(&pbx1), &[], &old_form, &globals),
            up(&["carrier"])
        );
    }

    #[test]
    fn no_bridge_back_to_the_source_or_to_nowhere() {
        let pbx = src("pbx2", false);
        let own = vec![ep(Scope::Number, "pbx2", 1, true)];
        // Its own number is bridged to itself: that is a loop, so it goes upstream.
        let globals = vec![ep(Scope::Global, "carrier", 1, false)];
        assert_eq!(decide(Some(&pbx), &own, &own, &globals), up(&["carrier"]));
        // No upstream at all: the fax is received rather than refused.
        assert_eq!(
            decide(Some(&pbx), &[], &own, &[]),
            BridgeDecision::StoreAndForward
        );
        // A carrier calling a number bridged back to that same carrier is received.
        let carrier = src("carrier", true);
        let back = vec![ep(Scope::Number, "carrier", 1, true)];
        assert_eq!(
            decide(Some(&carrier), &back, &[], &globals),
            BridgeDecision::StoreAndForward
        );
    }
}

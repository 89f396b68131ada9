//! Writes what [`super::source::read`] found into faxserver's store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use store::{
    EndpointKind, NewEndpoint, NewNumber, NewTenant, NumberId, NumberRules, Scope, Store, TenantId,
};

use super::psk;
use super::source::{OldEndpoint, OldNumber, OldTenant, OldUser, Source};
use crate::import::ImportError;

/// What the import did, one line a row, and what it could not carry over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows created, updated or found unchanged.
    pub done: Vec<String>,
    /// Rows or values not imported, with why.
    pub problems: Vec<String>,
    /// Rows imported that need something more before they work.
    pub notes: Vec<String>,
}

/// The ids a row got in faxserver.
#[derive(Default)]
struct Ids {
    tenants: HashMap<i64, TenantId>,
    numbers: HashMap<i64, (TenantId, NumberId)>,
}

/// Imports `src` into `store`; numbers are normalised with `rules`, passwords decrypted with
/// `psk`. Only a store failure on the way stops it; everything else is a problem line.
pub async fn apply(
    store: &dyn Store,
    src: &Source,
    psk: &str,
    rules: &NumberRules,
    now: DateTime<Utc>,
) -> Result<Report, ImportError> {
    let mut report = Report::default();
    let mut ids = Ids::default();
    for t in &src.tenants {
        tenant(store, t, now, &mut ids, &mut report).await?;
    }
    for n in &src.numbers {
        number(store, n, rules, &mut ids, &mut report).await?;
    }
    for e in &src.endpoints {
        endpoint(store, e, &ids, &mut report).await?;
    }
    for u in &src.users {
        user(store, u, psk, &ids, now, &mut report).await?;
    }
    let keys = src.users.iter().filter(|u| !u.api_key.is_empty()).count();
    if keys > 0 {
        report.problems.push(format!(
            "{keys} user api_key value(s) not imported: gofaxserver never authenticated with \
             them; create faxserver API tokens instead"
        ));
    }
    Ok(report)
}

async fn tenant(
    store: &dyn Store,
    t: &OldTenant,
    now: DateTime<Utc>,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<(), ImportError> {
    let name = match t.name.trim() {
        "" => format!("gofaxserver tenant {}", t.id),
        n => n.to_owned(),
    };
    let new = NewTenant {
        name: name.clone(),
        notify: t.notify.clone(),
    };
    let existing = store
        .list_tenants()
        .await?
        .into_iter()
        .find(|x| x.name == name);
    let (id, what) = match existing {
        Some(x) if x.notify == new.notify => (x.id, "unchanged"),
        Some(x) => {
            store.update_tenant(x.id, &new).await?;
            (x.id, "updated")
        }
        None => (store.create_tenant(&new, now).await?.id, "created"),
    };
    if ids.tenants.values().any(|v| *v == id) {
        report.problems.push(format!(
            "tenant {} {name:?}: another gofaxserver tenant has the same name; both map to \
             faxserver tenant {id}",
            t.id
        ));
    }
    ids.tenants.insert(t.id, id);
    report
        .done
        .push(format!("tenant {} {name:?} -> tenant {id}: {what}", t.id));
    Ok(())
}

async fn number(
    store: &dyn Store,
    n: &OldNumber,
    rules: &NumberRules,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<(), ImportError> {
    let label = format!("number {} {:?}", n.id, n.number);
    let Some(&tenant) = ids.tenants.get(&n.tenant_id) else {
        report.problems.push(format!(
            "{label}: skipped: its tenant {} does not exist",
            n.tenant_id
        ));
        return Ok(());
    };
    let e164 = match rules.normalize(&n.number) {
        Ok(e) => e,
        Err(e) => {
            report.problems.push(format!("{label}: skipped: {e}"));
            return Ok(());
        }
    };
    let new = NewNumber {
        number: e164.clone(),
        name: n.name.clone(),
        header: n.header.clone(),
        notify: n.notify.clone(),
    };
    let (id, what) = match store.find_number(&e164).await? {
        Some(x) if x.tenant_id != tenant => {
            report.problems.push(format!(
                "{label}: skipped: {e164} already belongs to faxserver tenant {}",
                x.tenant_id
            ));
            return Ok(());
        }
        Some(x) if x.name == new.name && x.header == new.header && x.notify == new.notify => {
            (x.id, "unchanged")
        }
        Some(x) => match soft(store.update_number(tenant, x.id, &new).await)? {
            Ok(_) => (x.id, "updated"),
            Err(why) => return skipped(report, &label, why),
        },
        None => match soft(store.create_number(tenant, &new).await)? {
            Ok(created) => (created.id, "created"),
            Err(why) => return skipped(report, &label, why),
        },
    };
    ids.numbers.insert(n.id, (tenant, id));
    report.done.push(format!(
        "{label} -> {e164} (number {id} of tenant {tenant}): {what}"
    ));
    Ok(())
}

async fn endpoint(
    store: &dyn Store,
    e: &OldEndpoint,
    ids: &Ids,
    report: &mut Report,
) -> Result<(), ImportError> {
    let label = format!(
        "endpoint {} ({} {} {:?})",
        e.id, e.scope, e.endpoint_type, e.endpoint
    );
    let mut skip = |why: String| report.problems.push(format!("{label}: skipped: {why}"));
    let kind = match e.endpoint_type.trim().to_ascii_lowercase().as_str() {
        "gateway" => EndpointKind::Gateway,
        "webhook" => EndpointKind::Webhook,
        "email" => EndpointKind::Email,
        other => {
            skip(format!("unknown endpoint type {other:?}"));
            return Ok(());
        }
    };
    let (scope, owner, scope_id) = match e.scope.trim().to_ascii_lowercase().as_str() {
        "global" => (Scope::Global, None, 0),
        "tenant" => match ids.tenants.get(&e.type_id) {
            Some(t) => (Scope::Tenant, Some(*t), t.0),
            None => {
                skip(format!("tenant {} was not imported", e.type_id));
                return Ok(());
            }
        },
        "number" => match ids.numbers.get(&e.type_id) {
            Some((t, n)) => (Scope::Number, Some(*t), n.0),
            None => {
                skip(format!("number {} was not imported", e.type_id));
                return Ok(());
            }
        },
        other => {
            skip(format!("unknown scope {other:?}"));
            return Ok(());
        }
    };
    let target = e.endpoint.trim().to_owned();
    if target.is_empty() {
        skip("empty endpoint".to_owned());
        return Ok(());
    }
    let new = NewEndpoint {
        scope,
        scope_id,
        endpoint_type: kind,
        target: target.clone(),
        priority: e.priority,
        bridge: e.bridge,
    };
    let existing = store.list_endpoints(owner).await?.into_iter().find(|x| {
        x.scope == scope && x.scope_id == scope_id && x.endpoint_type == kind && x.target == target
    });
    let (id, what) = match existing {
        Some(x) if x.priority == new.priority && x.bridge == new.bridge => (x.id, "unchanged"),
        Some(x) => match soft(store.update_endpoint(owner, x.id, &new).await)? {
            Ok(_) => (x.id, "updated"),
            Err(why) => return skipped(report, &label, why),
        },
        None => match soft(store.create_endpoint(owner, &new).await)? {
            Ok(created) => (created.id, "created"),
            Err(why) => return skipped(report, &label, why),
        },
    };
    report.done.push(format!(
        "{label} -> endpoint {id}, priority {}{}: {what}",
        e.priority,
        if e.bridge { ", bridge" } else { "" }
    ));
    if kind == EndpointKind::Gateway {
        let mut known = false;
        for name in engine::queue::route::gateway_names(&target) {
            known |= store.get_gateway_by_name(name).await?.is_some();
        }
        if !known {
            report.notes.push(format!(
                "{label}: no faxserver gateway is named {:?} yet; import it with `faxserver \
                 import freeswitch-gateways`",
                engine::queue::route::gateway_names(&target)
                    .last()
                    .copied()
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}

async fn user(
    store: &dyn Store,
    u: &OldUser,
    key: &str,
    ids: &Ids,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), ImportError> {
    let label = format!("user {} {:?}", u.id, u.username);
    let Some(&tenant) = ids.tenants.get(&u.tenant_id) else {
        report.problems.push(format!(
            "{label}: skipped: its tenant {} was not imported",
            u.tenant_id
        ));
        return Ok(());
    };
    let password = match psk::decrypt(key, &u.password) {
        Ok(p) => p,
        Err(e) => {
            // No disabled flag exists, and a made-up password would lock the user out
            // unseen: skip, and say so.
            report.problems.push(format!(
                "{label}: skipped (not created): password cannot be decrypted: {e}"
            ));
            return Ok(());
        }
    };
    let existing = store
        .list_users(tenant)
        .await?
        .into_iter()
        .find(|x| x.username == u.username);
    let (id, what) = match existing {
        Some(x) => {
            let same = store
                .verify_user_password(&u.username, &password)
                .await?
                .is_some_and(|v| v.id == x.id);
            if !same {
                store.set_password(tenant, x.id, &password).await?;
            }
            (
                x.id,
                if same {
                    "unchanged"
                } else {
                    "password updated"
                },
            )
        }
        None => match soft(store.create_user(tenant, &u.username, &password, now).await)? {
            Ok(x) => (x.id, "created"),
            Err(why) => return skipped(report, &label, why),
        },
    };
    report.done.push(format!(
        "{label} -> user {id} of tenant {tenant}, password re-hashed with argon2: {what}"
    ));
    Ok(())
}

/// Splits the store's refusals of one row (bad value, duplicate) from failures of the
/// store itself, which stop the import.
fn soft<T>(r: store::Result<T>) -> Result<Result<T, String>, ImportError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(
            e @ (store::Error::Invalid { .. }
            | store::Error::InvalidNumber { .. }
            | store::Error::Conflict(_)),
        ) => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

fn skipped(report: &mut Report, label: &str, why: String) -> Result<(), ImportError> {
    report.problems.push(format!("{label}: skipped: {why}"));
    Ok(())
}

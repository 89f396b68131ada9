//! FreeSWITCH sofia gateways (`<gateway name="…"><param name="…" value="…"/>…</gateway>`, as
//! in `conf/sip_profiles/*/*.xml`) as faxserver gateways.
//!
//! Mapped: `proxy` (else `realm`) → the gateway's URI, `username`, `password`, `register`
//! (FreeSWITCH's default: true), `register-transport` or a `;transport=` on the proxy →
//! transport; a proxy given as an IP address becomes the allowed source of calls from the
//! gateway. Everything else (`expire-seconds`, `from-user`, `from-domain`,
//! `caller-id-in-from`, …) has no faxserver equivalent and is reported, never dropped
//! silently. Gateways are imported as upstream carriers (no tenant) with T.38 allowed.

use std::net::IpAddr;

use regex::Regex;
use store::{NewGateway, Transport};

/// One gateway read from XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedGateway {
    /// What to create.
    pub gateway: NewGateway,
    /// Parameters faxserver has no place for: (name, value).
    pub unmapped: Vec<(String, String)>,
}

/// A gateway that could not be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its name (may be empty).
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Everything found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFile {
    /// The gateways that can be created.
    pub gateways: Vec<ImportedGateway>,
    /// The ones that cannot.
    pub rejected: Vec<Rejected>,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a typo would fail every test.
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("bad pattern {pattern}: {e}"))
}

/// Reads the gateways of one XML file's text.
pub fn parse_gateways(xml: &str) -> GatewayFile {
    let comments = re(r"(?s)<!--.*?-->");
    let xml = comments.replace_all(xml, "");
    let gateway = re(r#"(?s)<gateway\s([^>]*?)(/>|>(.*?)</gateway\s*>)"#);
    let param = re(r#"(?s)<param\s([^>]*?)/?>"#);
    let mut out = GatewayFile::default();
    for g in gateway.captures_iter(&xml) {
        let name = attribute(&g[1], "name").unwrap_or_default();
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(body) = g.get(3) {
            for p in param.captures_iter(body.as_str()) {
                if let Some(n) = attribute(&p[1], "name") {
                    params.push((n, attribute(&p[1], "value").unwrap_or_default()));
                }
            }
        }
        match gateway_from(&name, params) {
            Ok(g) => out.gateways.push(g),
            Err(reason) => out.rejected.push(Rejected { name, reason }),
        }
    }
    out
}

fn gateway_from(name: &str, params: Vec<(String, String)>) -> Result<ImportedGateway, String> {
    if name.trim().is_empty() {
        return Err("gateway without a name".to_owned());
    }
    let get = |key: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let host = get("proxy")
        .or_else(|| get("realm"))
        .ok_or_else(|| "neither proxy nor realm".to_owned())?;
    let bare = host
        .strip_prefix("sips:")
        .or_else(|| host.strip_prefix("sip:"))
        .unwrap_or(&host)
        .to_owned();
    let transport_param = bare
        .split(';')
        .skip(1)
        .find_map(|p| p.strip_prefix("transport="))
        .map(str::to_owned);
    let transport = match get("register-transport")
        .or(transport_param)
        .map(|t| t.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("udp") => Transport::Udp,
        Some("tcp") => Transport::Tcp,
        Some("tls") => Transport::Tls,
        Some(other) => return Err(format!("unsupported transport {other}")),
    };
    let address = bare.split(';').next().unwrap_or_default();
    let host_only = match address.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => address,
    };
    let host_only = host_only.trim_start_matches('[').trim_end_matches(']');
    let register = match get("register").map(|r| r.to_ascii_lowercase()).as_deref() {
        None => true,
        Some("true" | "yes" | "on" | "1") => true,
        Some("false" | "no" | "off" | "0") => false,
        Some(other) => return Err(format!("register is not a boolean: {other}")),
    };
    const MAPPED: [&str; 6] = [
        "proxy",
        "realm",
        "username",
        "password",
        "register",
        "register-transport",
    ];
    let unmapped = params
        .iter()
        .filter(|(n, _)| !MAPPED.iter().any(|m| m.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    Ok(ImportedGateway {
        gateway: NewGateway {
            name: name.trim().to_owned(),
            uri: format!("sip:{address}"),
            transport,
            username: get("username"),
            password: get("password"),
            register,
            allowed_sources: host_only
                .parse::<IpAddr>()
                .map(|ip| vec![ip.to_string()])
                .unwrap_or_default(),
            tenant_id: None,
            t38_allowed: true,
        },
        unmapped,
    })
}

/// An attribute's value (either quote), with XML's predefined entities decoded.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let pattern = format!(
        r#"(?:^|\s){}\s*=\s*(?:"([^"]*)"|'([^']*)')"#,
        regex::escape(name)
    );
    let caps = re(&pattern).captures(attributes)?;
    let raw = caps.get(1).or_else(|| caps.get(2))?.as_str();
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<include>
  <!-- <gateway name="commented"><param name="proxy" value="x"/></gateway> -->
  <gateway name="carrier1">
    <param name="username" value="faxuser"/>
    <param name="password" value="p&amp;ss"/>
    <param name="proxy" value="203.0.113.5:5080"/>
    <param name="realm" value="carrier.example"/>
    <param name="register" value="false"/>
    <param name="expire-seconds" value="600"/>
    <param name="from-user" value="15550001"/>
    <param name="caller-id-in-from" value="true"/>
  </gateway>
  <gateway name='pbx' >
    <param value="sip:pbx.example;transport=tcp" name="proxy" />
    <param name="from-domain" value="pbx.example"/>
  </gateway>
  <gateway name="broken"><param name="username" value="u"/></gateway>
  <gateway name="tls-one">
    <param name="realm" value="secure.example"/>
    <param name="register-transport" value="TLS"/>
  </gateway>
</include>"#;

    #[test]
    fn sofia_gateways() {
        let file = parse_gateways(SAMPLE);
        let names: Vec<&str> = file
            .gateways
            .iter()
            .map(|g| g.gateway.name.as_str())
            .collect();
        assert_eq!(names, ["carrier1", "pbx", "tls-one"]);
        let c = &file.gateways[0];
        assert_eq!(c.gateway.uri, "sip:203.0.113.5:5080");
        assert_eq!(c.gateway.username.as_deref(), Some("faxuser"));
        assert_eq!(c.gateway.password.as_deref(), Some("p&ss"));
        assert!(!c.gateway.register);
        assert_eq!(c.gateway.transport, Transport::Udp);
        assert_eq!(c.gateway.allowed_sources, ["203.0.113.5"]);
        assert_eq!(
            c.unmapped,
            [
                ("expire-seconds".to_owned(), "600".to_owned()),
                ("from-user".to_owned(), "15550001".to_owned()),
                ("caller-id-in-from".to_owned(), "true".to_owned())
            ]
        );
        let p = &file.gateways[1];
        assert_eq!(p.gateway.uri, "sip:pbx.example");
        assert_eq!(p.gateway.transport, Transport::Tcp);
        assert!(p.gateway.register);
        assert!(p.gateway.allowed_sources.is_empty());
        assert_eq!(file.gateways[2].gateway.transport, Transport::Tls);
        assert_eq!(file.gateways[2].gateway.uri, "sip:secure.example");
        assert_eq!(
            file.rejected,
            [Rejected {
                name: "broken".to_owned(),
                reason: "neither proxy nor realm".to_owned()
            }]
        );
    }

    #[test]
    fn junk_is_not_a_gateway() {
        assert_eq!(parse_gateways("<gateway"), GatewayFile::default());
        assert_eq!(parse_gateways("not xml at all"), GatewayFile::default());
        let file = parse_gateways(r#"<gateway name=""><param name="proxy" value="x"/></gateway>"#);
        assert_eq!(file.rejected[0].reason, "gateway without a name");
    }
}

//! FreeSWITCH sofia gateways (`<gateway name="…"><param name="…" value="…"/>…</gateway>`, as
//! in `conf/sip_profiles/*/*.xml`) as faxserver gateways.
//!
//! Mapped: `proxy` (else `realm`) → the gateway's URI, `username`, `password`, `register`
//! (FreeSWITCH's default: true), `register-transport` or a `;transport=` on the proxy →
//! transport; a proxy given as an IP address becomes the allowed source of calls from the
//! gateway. Everything else (`expire-seconds`, `from-user`, `from-domain`,
//! `caller-id-in-from`, …) has no faxserver equivalent and is reported, never dropped
//! silently. Gateways are imported as upstream carriers (no tenant) with T.38 allowed;
//! importing again replaces the gateway of the same name ([`apply_gateway`]).

use std::net::IpAddr;

use store::{Gateway, NewGateway, Store, Transport};

use super::ImportError;

/// One gateway read from XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedGateway {
    /// What to create.
    pub gateway: NewGateway,
    /// Parameters faxserver has no place for: (name, value); gateway channel variables
    /// appear as `variable:<name>`.
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

/// Reads the gateways of one XML file's text: every `<gateway>` element at any depth (a
/// file holds `<include>`, sometimes `<profile><gateways>` around them).
pub fn parse_gateways(xml: &str) -> Result<GatewayFile, ImportError> {
    let doc = match roxmltree::Document::parse(xml) {
        Ok(doc) => doc,
        Err(first) => {
            // Hand-written files sometimes list gateways without a root element; FreeSWITCH
            // itself needs `<include>`, so that wrapper is tried, and the original error kept.
            let body = strip_declaration(xml);
            let wrapped = format!("<include>{body}</include>");
            return match roxmltree::Document::parse(&wrapped) {
                Ok(doc) => Ok(gateways_of(&doc)),
                Err(_) => Err(ImportError::Xml(first.to_string())),
            };
        }
    };
    Ok(gateways_of(&doc))
}

fn strip_declaration(xml: &str) -> &str {
    let t = xml.trim_start_matches('\u{feff}').trim_start();
    match t
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
    {
        Some((_, rest)) => rest,
        None => t,
    }
}

fn gateways_of(doc: &roxmltree::Document) -> GatewayFile {
    let mut out = GatewayFile::default();
    for g in doc.descendants().filter(|n| n.has_tag_name("gateway")) {
        let name = g.attribute("name").unwrap_or_default().to_owned();
        let mut params: Vec<(String, String)> = Vec::new();
        let mut variables: Vec<(String, String)> = Vec::new();
        for child in g.children().filter(roxmltree::Node::is_element) {
            match child.tag_name().name() {
                "param" => {
                    if let Some(n) = child.attribute("name") {
                        params.push((n.to_owned(), value_of(&child)));
                    }
                }
                "variables" => {
                    for v in child.children().filter(|n| n.has_tag_name("variable")) {
                        let n = v.attribute("name").unwrap_or_default();
                        variables.push((format!("variable:{n}"), value_of(&v)));
                    }
                }
                _ => {}
            }
        }
        match gateway_from(&name, params) {
            Ok(mut g) => {
                g.unmapped.extend(variables);
                out.gateways.push(g);
            }
            Err(reason) => out.rejected.push(Rejected { name, reason }),
        }
    }
    out
}

fn value_of(node: &roxmltree::Node) -> String {
    node.attribute("value").unwrap_or_default().to_owned()
}

/// What importing one gateway did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new gateway.
    Created,
    /// A gateway of that name was replaced.
    Updated,
    /// A gateway of that name already said the same.
    Unchanged,
}

/// Creates the gateway, or replaces the one of the same name, so that importing twice
/// leaves one gateway.
pub async fn apply_gateway(store: &dyn Store, g: &NewGateway) -> store::Result<Applied> {
    match store.get_gateway_by_name(&g.name).await? {
        None => {
            store.create_gateway(g).await?;
            Ok(Applied::Created)
        }
        Some(old) if same(&old, g) => Ok(Applied::Unchanged),
        Some(old) => {
            store.update_gateway(old.id, g).await?;
            Ok(Applied::Updated)
        }
    }
}

fn same(old: &Gateway, new: &NewGateway) -> bool {
    old.name == new.name
        && old.uri == new.uri
        && old.transport == new.transport
        && old.username == new.username
        && old.password == new.password
        && old.register == new.register
        && old.allowed_sources == new.allowed_sources
        && old.tenant_id == new.tenant_id
        && old.t38_allowed == new.t38_allowed
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
    if host.contains("${") {
        // `$${var}` is expanded by FreeSWITCH's preprocessor from vars.xml, which we do not read.
        return Err(format!(
            "proxy {host} uses a FreeSWITCH variable; put the address in the file and import again"
        ));
    }
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
        let file = parse_gateways(SAMPLE).expect("well-formed");
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
    fn broken_xml_is_an_error_with_a_position() {
        let err = parse_gateways(
            "<include><gateway name=\"a\">\n<param name=\"proxy\" value=\"x\"></include>",
        )
        .expect_err("unclosed elements");
        let text = err.to_string();
        assert!(text.starts_with("not well-formed XML: "), "{text}");
        assert!(text.contains("2:"), "names the line: {text}");
        assert!(parse_gateways("<gateway").is_err());
        let file = parse_gateways(r#"<gateway name=""><param name="proxy" value="x"/></gateway>"#)
            .expect("a bare gateway is accepted");
        assert_eq!(file.rejected[0].reason, "gateway without a name");
    }

    #[test]
    fn profiles_variables_and_unexpanded_proxies() {
        let xml = r#"<?xml version="1.0"?>
<profile name="external"><gateways>
  <X-PRE-PROCESS cmd="include" data="external/*.xml"/>
  <gateway name="gw1">
    <param name="proxy" value="[2001:db8::1]:5060"/>
    <variables><variable name="sip_cid_type" value="rpid" direction="outbound"/></variables>
  </gateway>
  <gateway name="gw2"><param name="proxy" value="$${default_provider}"/></gateway>
</gateways></profile>"#;
        let file = parse_gateways(xml).expect("well-formed");
        assert_eq!(file.gateways.len(), 1);
        let g = &file.gateways[0];
        assert_eq!(g.gateway.allowed_sources, ["2001:db8::1"]);
        assert_eq!(
            g.unmapped,
            [("variable:sip_cid_type".to_owned(), "rpid".to_owned())]
        );
        assert_eq!(file.rejected[0].name, "gw2");
        assert!(file.rejected[0].reason.contains("FreeSWITCH variable"));
    }
}

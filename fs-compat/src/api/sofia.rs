//! `sofia status` and `sofia status gateway <name>` from the store's gateways, in mod_sofia's
//! layout (`%25s\t%s\t  %40s\t%s` rows between lines of `=`; one `Name\tvalue` line per
//! field for a gateway).

use store::Gateway;

/// mod_sofia's separator line.
const LINE: &str = "=================================================================================================";

/// What `sofia status` shows about the one SIP profile faxserver has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Its URL (`sip:mod_sofia@<ip>:<port>`).
    pub url: String,
    /// Calls in progress.
    pub in_use: usize,
}

/// The `sofia status` table; `state` gives each gateway's registration state.
pub fn status(profile: &Profile, gateways: &[(Gateway, String)]) -> String {
    let mut out = format!(
        "{:>25}\t{}\t  {:>40}\t{}\n",
        "Name", "   Type", "Data", "State"
    );
    out.push_str(LINE);
    out.push('\n');
    out.push_str(&format!(
        "{:>25}\t{}\t  {:>40}\t{} ({})\n",
        profile.name, "profile", profile.url, "RUNNING", profile.in_use
    ));
    for (gw, state) in gateways {
        out.push_str(&format!(
            "{:>25}\t{}\t  {:>40}\t{}\n",
            format!("{}::{}", profile.name, gw.name),
            "gateway",
            to_uri(gw),
            state
        ));
    }
    out.push_str(LINE);
    out.push('\n');
    out.push_str("1 profile 0 aliases\n");
    out
}

/// The `sofia status gateway <name>` block.
pub fn gateway(
    profile: &Profile,
    gw: &Gateway,
    state: &str,
    calls_in: usize,
    calls_out: usize,
) -> String {
    let realm = host_of(&gw.uri);
    let user = gw.username.clone().unwrap_or_else(|| gw.name.clone());
    let fields = [
        ("Name    ", gw.name.clone()),
        ("Profile ", profile.name.clone()),
        ("Scheme  ", "Digest".to_owned()),
        ("Realm   ", realm.clone()),
        ("Username", gw.username.clone().unwrap_or_default()),
        (
            "Password",
            if gw.password.as_deref().unwrap_or_default().is_empty() {
                "no"
            } else {
                "yes"
            }
            .to_owned(),
        ),
        ("From    ", format!("<sip:{user}@{realm}>")),
        ("Contact ", String::new()),
        ("Exten   ", user.clone()),
        ("To      ", to_uri(gw)),
        ("Proxy   ", gw.uri.clone()),
        ("Context ", "public".to_owned()),
        ("Expires ", "3600".to_owned()),
        (
            "Freq    ",
            if gw.register { "3600" } else { "0" }.to_owned(),
        ),
        ("Ping    ", "0".to_owned()),
        ("PingFreq", "0".to_owned()),
        ("PingState", "0/0/0".to_owned()),
        ("State   ", state.to_owned()),
        ("Status  ", "UP".to_owned()),
        ("Uptime  ", "0s".to_owned()),
        ("CallsIN ", calls_in.to_string()),
        ("CallsOUT", calls_out.to_string()),
        ("FailedCallsIN", "0".to_owned()),
        ("FailedCallsOUT", "0".to_owned()),
    ];
    let mut out = format!("{LINE}\n");
    for (name, value) in fields {
        out.push_str(&format!("{name}\t{value}\n"));
    }
    out.push_str(LINE);
    out.push('\n');
    out
}

/// `sip:<user>@<host>` as mod_sofia's `register_to`.
fn to_uri(gw: &Gateway) -> String {
    let user = gw.username.clone().unwrap_or_else(|| gw.name.clone());
    format!("sip:{user}@{}", host_of(&gw.uri))
}

/// The host (and port) of a SIP URI, without scheme, user and parameters.
fn host_of(uri: &str) -> String {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    rest.split([';', '?', '>'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("sip:user@example.com:5080;transport=tcp"),
            "example.com:5080"
        );
        assert_eq!(host_of("sip:10.0.0.1"), "10.0.0.1");
        assert_eq!(host_of("carrier.example"), "carrier.example");
    }

    #[test]
    fn header_row_layout() {
        let p = Profile {
            name: "faxserver".into(),
            url: "sip:mod_sofia@127.0.0.1:5060".into(),
            in_use: 0,
        };
        let text = status(&p, &[]);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("                     Name\t   Type\t                                      Data\tState")
        );
        assert_eq!(lines.next(), Some(LINE));
        assert_eq!(
            lines.next(),
            Some("                faxserver\tprofile\t              sip:mod_sofia@127.0.0.1:5060\tRUNNING (0)")
        );
        assert!(text.ends_with("1 profile 0 aliases\n"));
    }
}

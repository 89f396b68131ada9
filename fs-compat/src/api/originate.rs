//! `originate` as gofaxserver used it:
//! `originate {<vars>}sofia/gateway/<gw>/<number>[,|…] &txfax(<file>) [dialplan] [context]
//! [cid_name] [cid_num] [timeout]`, read into a [`FaxRequest`].
//!
//! Splitting follows FreeSWITCH (`switch_separate_string`, `switch_event_create_brackets`):
//! words are split on spaces outside single quotes, `{…}` holds comma-separated
//! `name=value` channel variables for every leg, `[…]` before a leg holds that leg's own,
//! legs are joined by `,` (all at once) or `|` (one after the other), and single quotes
//! around values are removed.

use std::path::PathBuf;

use engine::policy::Overrides;

/// One leg of a dial string: `sofia/gateway/<gateway>/<number>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaxTarget {
    /// The gateway's name (without a `profile::` prefix).
    pub gateway: String,
    /// The number to dial.
    pub number: String,
    /// Variables set for this leg only (`[…]`).
    pub variables: Vec<(String, String)>,
}

/// An outbound fax asked for with `originate … &txfax(<file>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaxRequest {
    /// The id the job should get: the `origination_uuid` when it is a UUID (gofaxserver
    /// passed its job's id there), else a new one. Events of the job's calls published
    /// before `submit_fax` returns are only attributed to this originate if the job has it.
    pub job_uuid: String,
    /// `origination_uuid`: the `Unique-ID` the client expects its events under.
    pub origination_uuid: Option<String>,
    /// Where to send it, in order.
    pub targets: Vec<FaxTarget>,
    /// `|` between legs: try one after the other; `,`: FreeSWITCH rang them all at once,
    /// faxserver tries them in order as well.
    pub sequential: bool,
    /// The TIFF to send (`&txfax(<file>)`).
    pub document: PathBuf,
    /// `origination_caller_id_number` (or the cid_num word).
    pub caller_id_number: Option<String>,
    /// `origination_caller_id_name` (or the cid_name word).
    pub caller_id_name: Option<String>,
    /// Ring time in seconds (`originate_timeout`, `call_timeout`, or the timeout word).
    pub timeout_secs: Option<u32>,
    /// `fax_ident`, `fax_header`, `fax_use_ecm`, `fax_enable_t38`, `fax_enable_t38_request`,
    /// `fax_disable_v17`, `fax_verbose`, read as the engine reads `override-<number>` keys.
    pub options: Overrides,
    /// Every `{…}` variable as written, in order.
    pub variables: Vec<(String, String)>,
}

impl FaxRequest {
    /// A `{…}` variable.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why an originate string was refused: the text after `-ERR ` or `-USAGE: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateError {
    /// Too few words.
    Usage,
    /// A leg that is not `sofia/gateway/…` (FreeSWITCH: no such endpoint).
    ChannelNotImplemented,
    /// An application other than `txfax`.
    ApplicationNotSupported(String),
    /// `txfax` without a file.
    MissingDocument,
}

/// FreeSWITCH's syntax line for `originate`.
pub const ORIGINATE_SYNTAX: &str = "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]";

/// Reads an originate argument.
pub fn parse(arg: &str) -> Result<FaxRequest, OriginateError> {
    let words = split_words(arg);
    if words.len() < 2 {
        return Err(OriginateError::Usage);
    }
    let (variables, legs) = leading_block(&words[0], '{', '}');
    let sequential = !legs.contains(',') && legs.contains('|');
    let mut targets = Vec::new();
    for leg in split_outside(&legs, &[',', '|'], '[', ']') {
        let (leg_vars, endpoint) = leading_block(leg.trim(), '[', ']');
        targets.push(parse_endpoint(&endpoint, leg_vars)?);
    }
    if targets.is_empty() {
        return Err(OriginateError::ChannelNotImplemented);
    }
    let document = txfax_document(&words[1])?;
    let word = |i: usize| words.get(i).filter(|w| !w.is_empty()).cloned();
    let var = |name: &str| {
        variables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let timeout_secs = var("originate_timeout")
        .or_else(|| var("call_timeout"))
        .or_else(|| word(6))
        .and_then(|t| t.trim().parse().ok());
    Ok(FaxRequest {
        job_uuid: String::new(),
        origination_uuid: var("origination_uuid").filter(|u| !u.is_empty()),
        caller_id_number: var("origination_caller_id_number").or_else(|| word(5)),
        caller_id_name: var("origination_caller_id_name").or_else(|| word(4)),
        targets,
        sequential,
        document,
        timeout_secs,
        options: Overrides::from_entries(variables.iter().map(|(n, v)| (n, v))),
        variables,
    })
}

fn parse_endpoint(
    endpoint: &str,
    variables: Vec<(String, String)>,
) -> Result<FaxTarget, OriginateError> {
    let rest = endpoint
        .strip_prefix("sofia/gateway/")
        .ok_or(OriginateError::ChannelNotImplemented)?;
    let (gateway, number) = rest
        .split_once('/')
        .ok_or(OriginateError::ChannelNotImplemented)?;
    let gateway = gateway.rsplit("::").next().unwrap_or(gateway);
    if gateway.is_empty() || number.is_empty() {
        return Err(OriginateError::ChannelNotImplemented);
    }
    Ok(FaxTarget {
        gateway: gateway.to_owned(),
        number: number.to_owned(),
        variables,
    })
}

fn txfax_document(word: &str) -> Result<PathBuf, OriginateError> {
    let app = word.strip_prefix('&').unwrap_or(word);
    let (name, args) = match app.split_once('(') {
        Some((name, rest)) => (name, rest.strip_suffix(')').unwrap_or(rest)),
        None => (app, ""),
    };
    if !name.eq_ignore_ascii_case("txfax") || !word.starts_with('&') {
        return Err(OriginateError::ApplicationNotSupported(name.to_owned()));
    }
    let path = args.trim();
    if path.is_empty() {
        return Err(OriginateError::MissingDocument);
    }
    Ok(PathBuf::from(path))
}

/// Words separated by spaces outside single quotes and brackets; quotes are kept (removed
/// later, per value).
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            '{' | '[' | '(' if !quoted => depth += 1,
            '}' | ']' | ')' if !quoted => depth = depth.saturating_sub(1),
            ' ' if !quoted && depth == 0 => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Splits on any of `seps` outside single quotes and `open…close`.
fn split_outside<'a>(s: &'a str, seps: &[char], open: char, close: char) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        } else if !quoted && c == open {
            depth += 1;
        } else if !quoted && c == close {
            depth = depth.saturating_sub(1);
        } else if !quoted && depth == 0 && seps.contains(&c) {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// A leading `open…close` block of `name=value` pairs and what follows it.
fn leading_block(s: &str, open: char, close: char) -> (Vec<(String, String)>, String) {
    let Some(inner) = s.strip_prefix(open) else {
        return (Vec::new(), s.to_owned());
    };
    let mut quoted = false;
    let mut end = None;
    for (i, c) in inner.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        } else if c == close && !quoted {
            end = Some(i);
            break;
        }
    }
    let Some(end) = end else {
        return (Vec::new(), s.to_owned());
    };
    let vars = split_outside(&inner[..end], &[','], '\u{0}', '\u{0}')
        .into_iter()
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), unquote(value)))
        })
        .collect();
    (vars, inner[end + close.len_utf8()..].to_owned())
}

/// Removes unescaped single quotes and backslash escapes, as FreeSWITCH's
/// `cleanup_separated_string` does.
fn unquote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '\'' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gofaxserver_originate() {
        let arg = "{ignore_early_media='true',origination_uuid='3f0c2b6e-1111-4c1e-9a57-000000000001',origination_caller_id_number='15550001',origination_caller_id_name='ACME, Inc',fax_ident='+1 555 0001',fax_header='ACME Corp',fax_use_ecm='false',fax_disable_v17='false',fax_enable_t38='true',fax_enable_t38_request='true',fax_verbose='false'}sofia/gateway/upstream1/15551234,sofia/gateway/upstream2/15551234 &txfax(/tmp/fax_3f0c.tiff)";
        let r = parse(arg).unwrap();
        assert_eq!(
            r.origination_uuid.as_deref(),
            Some("3f0c2b6e-1111-4c1e-9a57-000000000001")
        );
        assert_eq!(r.caller_id_name.as_deref(), Some("ACME, Inc"));
        assert_eq!(r.caller_id_number.as_deref(), Some("15550001"));
        assert_eq!(r.targets.len(), 2);
        assert_eq!(r.targets[1].gateway, "upstream2");
        assert_eq!(r.targets[1].number, "15551234");
        assert!(!r.sequential);
        assert_eq!(r.document, PathBuf::from("/tmp/fax_3f0c.tiff"));
        assert_eq!(r.options.ident.as_deref(), Some("+1 555 0001"));
        assert_eq!(r.options.header.as_deref(), Some("ACME Corp"));
        assert_eq!(r.options.use_ecm, Some(false));
        assert_eq!(r.options.enable_t38, Some(true));
        assert_eq!(r.options.enable_t38_request, Some(true));
        assert_eq!(r.options.disable_v17, Some(false));
        assert_eq!(r.variable("ignore_early_media"), Some("true"));
    }

    #[test]
    fn legs_words_and_errors() {
        let r = parse("[fax_ident=A]sofia/gateway/fs::gw1/1|sofia/gateway/gw2/2 &txfax(/f.tif) XML default Name 100 30").unwrap();
        assert!(r.sequential);
        assert_eq!(r.targets[0].gateway, "gw1");
        assert_eq!(
            r.targets[0].variables,
            vec![("fax_ident".into(), "A".into())]
        );
        assert_eq!(r.caller_id_number.as_deref(), Some("100"));
        assert_eq!(r.timeout_secs, Some(30));
        assert_eq!(parse("sofia/gateway/gw/1"), Err(OriginateError::Usage));
        assert_eq!(
            parse("user/1000 &txfax(/f)"),
            Err(OriginateError::ChannelNotImplemented)
        );
        assert_eq!(
            parse("sofia/gateway/gw/1 &park()"),
            Err(OriginateError::ApplicationNotSupported("park".into()))
        );
        assert_eq!(
            parse("sofia/gateway/gw/1 &txfax()"),
            Err(OriginateError::MissingDocument)
        );
        assert_eq!(
            parse("sofia/gateway/gw/1 1000"),
            Err(OriginateError::ApplicationNotSupported("1000".into()))
        );
        assert!(parse("{a='b sofia/gateway/gw/1 &txfax(/f)").is_err());
    }
}

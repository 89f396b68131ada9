//! `show channels` and `show calls` (`[count] [as delim|csv|json|xml]`), in the layouts of
//! mod_commands' `show_function`: a header line, one delimited line per row, then
//! `\n<N> total.\n`; JSON as `{"row_count":N,"rows":[…]}` (`{"row_count": 0}\n` when empty);
//! XML as `<result row_count="N">` with one `<row row_id="i">` per row.

use chrono::Local;

use crate::esl::channels::{CallState, Channel};

/// mod_commands' syntax line for `show`.
const SHOW_SYNTAX: &str = "codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits";

const CHANNEL_COLUMNS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
];

const CALL_COLUMNS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "hostname",
    "sent_callee_name",
    "sent_callee_num",
    "b_uuid",
    "b_direction",
    "b_created",
    "b_created_epoch",
    "b_name",
    "b_state",
    "b_cid_name",
    "b_cid_num",
    "b_ip_addr",
    "b_dest",
    "b_presence_id",
    "b_presence_data",
    "b_accountcode",
    "b_callstate",
    "b_callee_name",
    "b_callee_num",
    "b_callee_direction",
    "b_sent_callee_name",
    "b_sent_callee_num",
    "call_created_epoch",
];

/// One channel's value for a column (empty where faxserver has nothing to say).
fn value(ch: &Channel, column: &str, hostname: &str) -> String {
    let created = ch.created.with_timezone(&Local);
    let application = match ch.call.direction {
        engine::call::FaxDirection::Send => "txfax",
        engine::call::FaxDirection::Receive => "rxfax",
    };
    match column {
        "uuid" | "call_uuid" => ch.uuid.clone(),
        "direction" => ch.direction().to_owned(),
        "created" => created.format("%Y-%m-%d %H:%M:%S").to_string(),
        "created_epoch" | "call_created_epoch" => ch.created.timestamp().to_string(),
        "name" => ch.name(),
        "state" => match ch.state {
            CallState::Down => "CS_INIT",
            CallState::Hangup => "CS_HANGUP",
            _ => "CS_EXECUTE",
        }
        .to_owned(),
        "cid_name" | "initial_cid_name" => ch.caller_name(),
        "cid_num" | "initial_cid_num" => ch.call.caller.clone(),
        "dest" | "initial_dest" => ch.call.callee.clone(),
        "application" => application.to_owned(),
        "dialplan" | "initial_dialplan" => "XML".to_owned(),
        "context" | "initial_context" => "public".to_owned(),
        "hostname" => hostname.to_owned(),
        "callstate" => ch.state.name().to_owned(),
        _ => String::new(),
    }
}

/// Runs `show <arg>` over `channels`.
pub fn show(arg: Option<&str>, channels: &[Channel], hostname: &str) -> String {
    let argv: Vec<&str> = arg.unwrap_or_default().split(' ').collect();
    let word = |i: usize| argv.get(i).copied().filter(|w| !w.is_empty());
    let columns = match word(0) {
        Some(c) if c.eq_ignore_ascii_case("channels") => CHANNEL_COLUMNS,
        Some(c) if c.eq_ignore_ascii_case("calls") => CALL_COLUMNS,
        _ => return format!("-USAGE: {SHOW_SYNTAX}\n"),
    };
    let count_only = word(1).is_some_and(|w| w.eq_ignore_ascii_case("count"));
    let (as_at, delim_at) = if count_only { (2, 4) } else { (1, 3) };
    let format = match (word(as_at), word(as_at + 1)) {
        (Some(a), Some(f)) if a.eq_ignore_ascii_case("as") => f.to_ascii_lowercase(),
        _ => "delim".to_owned(),
    };
    let rows: Vec<Vec<String>> = channels
        .iter()
        .map(|ch| columns.iter().map(|c| value(ch, c, hostname)).collect())
        .collect();
    match format.as_str() {
        "delim" | "csv" => {
            if count_only {
                return format!("\n{} total.\n", rows.len());
            }
            let delim = if format == "csv" {
                word(delim_at).unwrap_or(",")
            } else {
                ","
            };
            let mut out = String::new();
            if !rows.is_empty() {
                out.push_str(&columns.join(delim));
                out.push('\n');
            }
            for row in &rows {
                out.push_str(&row.join(delim));
                out.push('\n');
            }
            out.push_str(&format!("\n{} total.\n", rows.len()));
            out
        }
        "json" => {
            if rows.is_empty() {
                return "{\"row_count\": 0}\n".to_owned();
            }
            let items: Vec<String> = if count_only {
                Vec::new()
            } else {
                rows.iter()
                    .map(|row| {
                        let members: Vec<String> = columns
                            .iter()
                            .zip(row)
                            .map(|(c, v)| format!("{}:{}", json(c), json(v)))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    })
                    .collect()
            };
            format!(
                "{{\"row_count\":{},\"rows\":[{}]}}",
                rows.len(),
                items.join(",")
            )
        }
        "xml" => {
            if rows.is_empty() {
                return "<result row_count=\"0\"/>\n".to_owned();
            }
            let mut out = format!("<result row_count=\"{}\">\n", rows.len());
            if !count_only {
                for (i, row) in rows.iter().enumerate() {
                    out.push_str(&format!("  <row row_id=\"{}\">\n", i + 1));
                    for (c, v) in columns.iter().zip(row) {
                        out.push_str(&format!("    <{c}>{}</{c}>\n", xml(v)));
                    }
                    out.push_str("  </row>\n");
                }
            }
            out.push_str("</result>\n");
            out
        }
        other => format!("-ERR Cannot find format {other}\n"),
    }
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use engine::call::FaxDirection;
    use engine::events::CallInfo;

    fn channel() -> Channel {
        Channel {
            uuid: "u1".into(),
            call: CallInfo {
                call_uuid: "c1".into(),
                job_uuid: None,
                tenant_id: None,
                sip_call_id: "sip".into(),
                direction: FaxDirection::Receive,
                caller: "100".into(),
                callee: "200".into(),
                gateway: None,
            },
            created: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            answered: None,
            hangup: None,
            state: CallState::Active,
            variables: Vec::new(),
        }
    }

    #[test]
    fn empty_tables() {
        assert_eq!(show(Some("channels"), &[], "h"), "\n0 total.\n");
        assert_eq!(
            show(Some("calls as json"), &[], "h"),
            "{\"row_count\": 0}\n"
        );
        assert_eq!(
            show(Some("channels as xml"), &[], "h"),
            "<result row_count=\"0\"/>\n"
        );
        assert_eq!(show(Some("channels count"), &[], "h"), "\n0 total.\n");
        assert!(show(Some("nothing"), &[], "h").starts_with("-USAGE: codec|"));
        assert!(show(None, &[], "h").starts_with("-USAGE: "));
    }

    #[test]
    fn one_channel() {
        let rows = [channel()];
        let text = show(Some("channels"), &rows, "h");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].split(',').count(), CHANNEL_COLUMNS.len());
        assert!(lines[1].starts_with("u1,inbound,"));
        assert!(text.ends_with("\n\n1 total.\n"));
        let json: serde_json::Value =
            serde_json::from_str(&show(Some("channels as json"), &rows, "h")).unwrap();
        assert_eq!(json["row_count"], 1);
        assert_eq!(json["rows"][0]["callstate"], "ACTIVE");
        assert_eq!(json["rows"][0]["cid_num"], "100");
        let json: serde_json::Value =
            serde_json::from_str(&show(Some("calls count as json"), &rows, "h")).unwrap();
        assert_eq!(json["row_count"], 1);
        let xml = show(Some("calls as xml"), &rows, "h");
        assert!(xml
            .starts_with("<result row_count=\"1\">\n  <row row_id=\"1\">\n    <uuid>u1</uuid>\n"));
        assert!(xml.ends_with("  </row>\n</result>\n"));
    }
}

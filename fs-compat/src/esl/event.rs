//! A FreeSWITCH event (ordered headers and an optional body) and its three encodings.
//!
//! - plain (`switch_event_serialize`): `Name: url-encoded value\n` per header (an empty
//!   value is written `_undef_`), then `Content-Length: n\n\n<body>` when there is a body,
//!   else an empty line;
//! - json (`switch_event_serialize_json`, cJSON unformatted): one object, headers in order,
//!   then `Content-Length` and `_body` when there is a body;
//! - xml (`switch_event_xmlize` + `switch_xml_toxml`): `<event>`, `<headers>` with one
//!   element per header holding its url-encoded value, then `<Content-Length>` and `<body>`,
//!   indented by two spaces per level, a line feed after every closing tag.

use super::urlenc;

/// The three encodings a listener may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventFormat {
    /// `text/event-plain`.
    #[default]
    Plain,
    /// `text/event-json`.
    Json,
    /// `text/event-xml`.
    Xml,
}

impl EventFormat {
    /// The word used on the wire (`plain`, `json`, `xml`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Plain => "plain",
            EventFormat::Json => "json",
            EventFormat::Xml => "xml",
        }
    }

    /// Reads the word, ignoring case.
    pub fn parse(word: &str) -> Option<EventFormat> {
        [EventFormat::Plain, EventFormat::Json, EventFormat::Xml]
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(word))
    }
}

/// One event, headers in the order FreeSWITCH would add them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EslEvent {
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl EslEvent {
    /// An event with no headers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header (FreeSWITCH's `SWITCH_STACK_BOTTOM`).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn set_body(&mut self, body: impl Into<String>) -> &mut Self {
        self.body = Some(body.into());
        self
    }

    /// The headers in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The first header of that name, compared without regard to case (as
    /// `switch_event_get_header` does).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Event-Name`.
    pub fn name(&self) -> &str {
        self.header("Event-Name").unwrap_or_default()
    }

    /// `Event-Subclass`, for CUSTOM events.
    pub fn subclass(&self) -> Option<&str> {
        self.header("Event-Subclass")
    }

    /// The encoding `format` asks for.
    pub fn serialize(&self, format: EventFormat) -> String {
        match format {
            EventFormat::Plain => self.to_plain(),
            EventFormat::Json => self.to_json(),
            EventFormat::Xml => self.to_xml(),
        }
    }

    /// `text/event-plain` body.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.headers {
            let encoded = urlenc::encode(value);
            let value = if encoded.is_empty() {
                "_undef_"
            } else {
                &encoded
            };
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
        }
        match self.body.as_deref() {
            Some(body) if !body.is_empty() => {
                out.push_str(&format!("Content-Length: {}\n\n", body.len()));
                out.push_str(body);
            }
            _ => out.push('\n'),
        }
        out
    }

    /// `text/event-json` body.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let mut member = |out: &mut String, name: &str, value: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&json_string(name));
            out.push(':');
            out.push_str(&json_string(value));
        };
        for (name, value) in &self.headers {
            member(&mut out, name, value);
        }
        if let Some(body) = &self.body {
            member(&mut out, "Content-Length", &body.len().to_string());
            member(&mut out, "_body", body);
        }
        out.push('}');
        out
    }

    /// `text/event-xml` body.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<event>\n  <headers>\n");
        for (name, value) in &self.headers {
            out.push_str(&format!(
                "    <{name}>{}</{name}>\n",
                xml_text(&urlenc::encode(value))
            ));
        }
        out.push_str("  </headers>\n");
        if let Some(body) = self.body.as_deref().filter(|b| !b.is_empty()) {
            out.push_str(&format!(
                "  <Content-Length>{}</Content-Length>\n",
                body.len()
            ));
            out.push_str(&format!("  <body>{}</body>\n", xml_text(body)));
        }
        out.push_str("</event>\n");
        out
    }
}

/// A JSON string as cJSON writes it (serde_json escapes the same characters).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// Character data as `switch_xml_ampencode` writes it (outside attributes).
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EslEvent {
        let mut e = EslEvent::new();
        e.push("Event-Name", "BACKGROUND_JOB")
            .push("Event-Date-Local", "2020-05-14 17:35:30")
            .push("Job-Command", "status")
            .push("Empty", "");
        e
    }

    #[test]
    fn plain_without_and_with_body() {
        let e = sample();
        assert_eq!(
            e.to_plain(),
            "Event-Name: BACKGROUND_JOB\nEvent-Date-Local: 2020-05-14%2017%3A35%3A30\nJob-Command: status\nEmpty: _undef_\n\n"
        );
        let mut e = sample();
        e.set_body("+OK done\n");
        assert!(e
            .to_plain()
            .ends_with("Empty: _undef_\nContent-Length: 9\n\n+OK done\n"));
    }

    #[test]
    fn json_keeps_order_and_raw_values() {
        let mut e = sample();
        e.set_body("a\"b\n");
        assert_eq!(
            e.to_json(),
            r#"{"Event-Name":"BACKGROUND_JOB","Event-Date-Local":"2020-05-14 17:35:30","Job-Command":"status","Empty":"","Content-Length":"4","_body":"a\"b\n"}"#
        );
    }

    #[test]
    fn xml_layout() {
        let mut e = sample();
        e.set_body("<ok> & done");
        assert_eq!(
            e.to_xml(),
            "<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>\n    <Event-Date-Local>2020-05-14%2017%3A35%3A30</Event-Date-Local>\n    <Job-Command>status</Job-Command>\n    <Empty></Empty>\n  </headers>\n  <Content-Length>11</Content-Length>\n  <body>&lt;ok&gt; &amp; done</body>\n</event>\n"
        );
    }

    #[test]
    fn header_lookup_ignores_case() {
        let e = sample();
        assert_eq!(e.header("job-command"), Some("status"));
        assert_eq!(e.name(), "BACKGROUND_JOB");
        assert_eq!(e.subclass(), None);
        assert_eq!(EventFormat::parse("JSON"), Some(EventFormat::Json));
    }
}

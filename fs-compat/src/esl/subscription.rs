//! What one connection listens to: event names, CUSTOM subclasses, header filters and the
//! event format (`event`, `nixevent`, `noevents`, `filter`, `myevents`).
//!
//! The rules, replies included, are those of `parse_command` and `event_handler` in
//! `mod_event_socket.c`: unknown event words are ignored; after `CUSTOM` every word is a
//! subclass; `ALL` takes every event, CUSTOM subclasses included; a CUSTOM event with a
//! subclass passes a `CUSTOM` subscription only if that subclass was named. Filters: an
//! event passes when a filter on one of its headers matches (case-insensitive equality, or a
//! `/regex/flags` value) and no `-` filter matches; events with none of the filtered
//! headers are dropped.

use std::collections::BTreeSet;

use regex::{Regex, RegexBuilder};

use super::event::{EslEvent, EventFormat};
use super::names::{event_name, EVENT_NAMES};

/// Compiled regular expressions of filters are kept small: a client must not make us build
/// huge automata.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// One `filter <header> <value>` line.
#[derive(Debug, Clone)]
struct Filter {
    header: String,
    value: String,
    matcher: Matcher,
}

/// How a filter value compares.
#[derive(Debug, Clone)]
enum Matcher {
    /// Case-insensitive equality with the value after its `+`/`-` signs.
    Text,
    /// A `/pattern/flags` value.
    Regex(Regex),
    /// A `/…` value that does not compile: it never matches, as in FreeSWITCH.
    Never,
}

/// The events one connection asked for.
#[derive(Debug, Clone, Default)]
pub struct Subscriptions {
    format: EventFormat,
    enabled: bool,
    all: bool,
    names: BTreeSet<&'static str>,
    custom: BTreeSet<String>,
    filters: Vec<Filter>,
    my_uuid: Option<String>,
}

/// The channel events `myevents` subscribes to.
const MY_EVENTS: &[&str] = &[
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DATA",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "NOTALK",
    "TALK",
];

impl Subscriptions {
    /// Nothing subscribed, plain format.
    pub fn new() -> Self {
        Self::default()
    }

    /// The format events are sent in.
    pub fn format(&self) -> EventFormat {
        self.format
    }

    /// Whether any event can be delivered at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// `event [plain|json|xml] <names…>`: the words after the command; returns the reply.
    pub fn event(&mut self, words: &str) -> String {
        let mut keys = 0;
        let mut custom = false;
        for (i, word) in words.split(' ').enumerate() {
            if i == 0 {
                if let Some(format) = EventFormat::parse(word) {
                    self.format = format;
                    continue;
                }
            }
            if custom {
                if !word.is_empty() {
                    self.custom.insert(word.to_owned());
                }
            } else if let Some(name) = event_name(word) {
                keys += 1;
                if name == "ALL" {
                    self.all = true;
                    self.names.extend(EVENT_NAMES.iter().copied());
                }
                self.names.insert(name);
                custom |= name == "CUSTOM";
            }
        }
        if keys == 0 {
            return "-ERR no keywords supplied".to_owned();
        }
        self.enabled = true;
        format!("+OK event listener enabled {}", self.format.as_str())
    }

    /// `nixevent <names…>`; returns the reply.
    pub fn nixevent(&mut self, words: &str) -> String {
        let mut keys = 0;
        let mut custom = false;
        for word in words.split(' ') {
            if custom {
                self.custom.remove(word);
            } else if let Some(name) = event_name(word) {
                keys += 1;
                match name {
                    "CUSTOM" => custom = true,
                    "ALL" => {
                        self.all = false;
                        self.names.clear();
                    }
                    _ => {
                        if self.all {
                            self.all = false;
                            self.names.extend(EVENT_NAMES.iter().copied());
                            self.names.remove("ALL");
                        }
                        self.names.remove(name);
                    }
                }
            }
        }
        if keys == 0 {
            return "-ERR no keywords supplied".to_owned();
        }
        self.enabled = true;
        "+OK events nixed".to_owned()
    }

    /// `noevents`; returns the reply.
    pub fn noevents(&mut self) -> String {
        if !self.enabled {
            return "-ERR not listening for events".to_owned();
        }
        self.enabled = false;
        self.all = false;
        self.names.clear();
        self.custom.clear();
        "+OK no longer listening for events".to_owned()
    }

    /// `myevents <uuid> [plain|json|xml]`: the channel events of one call; returns the reply.
    pub fn myevents(&mut self, words: &str) -> String {
        if self.my_uuid.is_some() {
            // FreeSWITCH's spelling.
            return "-ERR aready enabled.".to_owned();
        }
        let mut parts = words.split(' ');
        let uuid = parts.next().unwrap_or_default().to_owned();
        if let Some(format) = parts.next().and_then(EventFormat::parse) {
            self.format = format;
        }
        self.my_uuid = Some(uuid);
        self.names.extend(MY_EVENTS.iter().copied());
        self.enabled = true;
        "+OK Events Enabled".to_owned()
    }

    /// `filter …`: the words after the command; returns the reply.
    pub fn filter(&mut self, words: &str) -> String {
        let words = words.trim_start_matches(' ');
        let (name, value) = split_word(words);
        if name.eq_ignore_ascii_case("delete") {
            if let Some(rest) = value {
                let (name, value) = split_word(rest);
                if name.eq_ignore_ascii_case("all") {
                    self.filters.clear();
                } else {
                    self.filters.retain(|f| {
                        !(f.header.eq_ignore_ascii_case(name) && value.is_none_or(|v| f.value == v))
                    });
                }
                return format!(
                    "+OK filter deleted. [{name}][{}]",
                    value.unwrap_or_default()
                );
            }
        }
        let Some(value) = value else {
            return "-ERR invalid syntax".to_owned();
        };
        let (name, value) = if name.eq_ignore_ascii_case("add") {
            split_word(value)
        } else {
            (name, Some(value))
        };
        let Some(value) = value else {
            // FreeSWITCH adds nothing and prints the missing value with printf's "(null)".
            return format!("+OK filter added. [{name}]=[(null)]");
        };
        self.filters.push(Filter {
            header: name.to_owned(),
            value: value.to_owned(),
            matcher: compile_filter(value),
        });
        format!("+OK filter added. [{name}]=[{value}]")
    }

    /// Whether `event` is delivered to this connection.
    pub fn wants(&self, event: &EslEvent) -> bool {
        if !self.enabled {
            return false;
        }
        let name = event.name();
        let mut send = self.all
            || (self.names.contains(name)
                && (name != "CUSTOM"
                    || event
                        .subclass()
                        .is_none_or(|subclass| self.custom.contains(subclass))));
        if send && !self.filters.is_empty() {
            send = self.filters_pass(event);
        }
        if send {
            if let Some(uuid) = &self.my_uuid {
                send = event.header("Unique-ID") == Some(uuid.as_str());
            }
        }
        send
    }

    fn filters_pass(&self, event: &EslEvent) -> bool {
        let mut send = false;
        for filter in &self.filters {
            let Some(value) = event.header(&filter.header) else {
                continue;
            };
            let mut positive = true;
            let mut compare = filter.value.as_str();
            for (i, c) in filter.value.char_indices() {
                match c {
                    '+' => positive = true,
                    '-' => positive = false,
                    ' ' => {}
                    _ => {
                        compare = &filter.value[i..];
                        break;
                    }
                }
                compare = &filter.value[i + 1..];
            }
            if send && positive {
                continue;
            }
            let matched = match &filter.matcher {
                Matcher::Text => value.eq_ignore_ascii_case(compare),
                Matcher::Regex(re) => re.is_match(value),
                Matcher::Never => false,
            };
            if matched {
                if positive {
                    send = true;
                } else {
                    return false;
                }
            }
        }
        send
    }
}

/// The first word and, after the first space, the rest.
fn split_word(s: &str) -> (&str, Option<&str>) {
    match s.split_once(' ') {
        Some((word, rest)) => (word, Some(rest)),
        None => (s, None),
    }
}

/// A `/pattern/flags` value as FreeSWITCH's `switch_regex_perform` reads it (flags `i` and
/// `s`); any other value compares as text.
fn compile_filter(value: &str) -> Matcher {
    let Some(inner) = value.strip_prefix('/') else {
        return Matcher::Text;
    };
    let Some((pattern, flags)) = inner.rsplit_once('/') else {
        return Matcher::Never;
    };
    RegexBuilder::new(pattern)
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_or(Matcher::Never, Matcher::Regex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, subclass: Option<&str>, uuid: &str) -> EslEvent {
        let mut e = EslEvent::new();
        e.push("Event-Name", name);
        if let Some(s) = subclass {
            e.push("Event-Subclass", s);
        }
        e.push("Unique-ID", uuid);
        e
    }

    #[test]
    fn event_replies_and_format() {
        let mut s = Subscriptions::new();
        assert_eq!(s.event("plain"), "-ERR no keywords supplied");
        assert_eq!(s.event("json NOPE"), "-ERR no keywords supplied");
        assert_eq!(s.format(), EventFormat::Json);
        assert_eq!(
            s.event("xml CHANNEL_ANSWER"),
            "+OK event listener enabled xml"
        );
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "u")));
        assert!(!s.wants(&event("CHANNEL_HANGUP", None, "u")));
    }

    #[test]
    fn custom_subclasses() {
        let mut s = Subscriptions::new();
        s.event("plain CHANNEL_CALLSTATE CUSTOM spandsp::txfaxresult spandsp::txfaxpageresult");
        assert!(s.wants(&event("CUSTOM", Some("spandsp::txfaxresult"), "u")));
        assert!(!s.wants(&event("CUSTOM", Some("spandsp::rxfaxresult"), "u")));
        assert!(s.wants(&event("CHANNEL_CALLSTATE", None, "u")));
        s.nixevent("CUSTOM spandsp::txfaxresult");
        assert!(!s.wants(&event("CUSTOM", Some("spandsp::txfaxresult"), "u")));
        assert!(s.wants(&event("CUSTOM", Some("spandsp::txfaxpageresult"), "u")));
    }

    #[test]
    fn all_and_nixevent() {
        let mut s = Subscriptions::new();
        assert_eq!(s.event("ALL"), "+OK event listener enabled plain");
        assert!(s.wants(&event("CUSTOM", Some("spandsp::rxfaxresult"), "u")));
        assert_eq!(s.nixevent("CHANNEL_CREATE"), "+OK events nixed");
        assert!(!s.wants(&event("CHANNEL_CREATE", None, "u")));
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "u")));
        // No longer ALL: subclasses must now be named, as in FreeSWITCH.
        assert!(!s.wants(&event("CUSTOM", Some("spandsp::rxfaxresult"), "u")));
        assert_eq!(s.nixevent("bogus"), "-ERR no keywords supplied");
        assert_eq!(s.noevents(), "+OK no longer listening for events");
        assert_eq!(s.noevents(), "-ERR not listening for events");
        assert!(!s.wants(&event("CHANNEL_ANSWER", None, "u")));
    }

    #[test]
    fn filters() {
        let mut s = Subscriptions::new();
        s.event("ALL");
        assert_eq!(s.filter("Unique-ID"), "-ERR invalid syntax");
        assert_eq!(
            s.filter("Unique-ID abc"),
            "+OK filter added. [Unique-ID]=[abc]"
        );
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "ABC")));
        assert!(!s.wants(&event("CHANNEL_ANSWER", None, "abd")));
        let mut no_uuid = EslEvent::new();
        no_uuid.push("Event-Name", "HEARTBEAT");
        assert!(!s.wants(&no_uuid));
        assert_eq!(
            s.filter("add Event-Name -CHANNEL_ANSWER"),
            "+OK filter added. [Event-Name]=[-CHANNEL_ANSWER]"
        );
        assert!(!s.wants(&event("CHANNEL_ANSWER", None, "abc")));
        assert!(s.wants(&event("CHANNEL_HANGUP", None, "abc")));
        assert_eq!(
            s.filter("delete Event-Name"),
            "+OK filter deleted. [Event-Name][]"
        );
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "abc")));
        assert_eq!(
            s.filter("Unique-ID /^x[0-9]+$/i"),
            "+OK filter added. [Unique-ID]=[/^x[0-9]+$/i]"
        );
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "X42")));
        assert_eq!(s.filter("delete all"), "+OK filter deleted. [all][]");
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "zzz")));
        assert_eq!(s.filter("add X"), "+OK filter added. [X]=[(null)]");
        assert!(s.wants(&event("CHANNEL_ANSWER", None, "zzz")));
        assert_eq!(s.filter("delete"), "-ERR invalid syntax");
    }

    #[test]
    fn myevents_follows_one_call() {
        let mut s = Subscriptions::new();
        assert_eq!(s.myevents("u1 json"), "+OK Events Enabled");
        assert_eq!(s.myevents("u1"), "-ERR aready enabled.");
        assert_eq!(s.format(), EventFormat::Json);
        assert!(s.wants(&event("CHANNEL_HANGUP", None, "u1")));
        assert!(!s.wants(&event("CHANNEL_HANGUP", None, "u2")));
        assert!(!s.wants(&event("CHANNEL_CALLSTATE", None, "u1")));
    }
}

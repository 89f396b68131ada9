//! Client commands, recognised as `parse_command` in `mod_event_socket.c` does: by
//! case-insensitive prefix, in FreeSWITCH's order (so `logfoo` is `log`, `events` is `event`).

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `exit` (or `...`): say goodbye and close.
    Exit,
    /// `auth <password>`.
    Auth(String),
    /// `userauth <user>@<domain>:<password>`: per-user ESL accounts, not supported.
    UserAuth,
    /// Anything else sent before authenticating.
    NotAuthenticated,
    /// `filter …`: the words after `filter `.
    Filter(String),
    /// `myevents <uuid> [format]`.
    MyEvents(String),
    /// `divert_events on|off` (needs a controlled session, which inbound mode has not).
    DivertEvents,
    /// `sendmsg [<uuid>]` (needs a session): the uuid.
    SendMsg(String),
    /// `sendevent <name>`: the name.
    SendEvent(String),
    /// `api <command> [<arg>]`.
    Api {
        /// The API command.
        command: String,
        /// What followed the first space, if there was one.
        arg: Option<String>,
    },
    /// `bgapi <command> [<arg>]`.
    BgApi {
        /// The API command.
        command: String,
        /// What followed the first space, if there was one.
        arg: Option<String>,
    },
    /// `log [<level>]`: the level word (empty for none).
    Log(String),
    /// `linger [<seconds>]` (needs a session).
    Linger,
    /// `nolinger` (needs a session).
    NoLinger,
    /// `nolog`.
    NoLog,
    /// `event …`: the words after the first space.
    Event(String),
    /// `nixevent …`: the words after the first space.
    NixEvent(String),
    /// `noevents`.
    NoEvents,
    /// Not a command FreeSWITCH knows in inbound mode.
    Unknown,
}

fn has_prefix(line: &str, prefix: &str) -> bool {
    line.as_bytes()
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// The words after the first space at or after byte `from` (empty when there is none).
fn words_after(line: &str, from: usize) -> String {
    line.get(from..)
        .and_then(|rest| rest.split_once(' '))
        .map(|(_, words)| words.to_owned())
        .unwrap_or_default()
}

fn api_parts(rest: &str) -> (String, Option<String>) {
    match rest.split_once(' ') {
        Some((command, arg)) => (command.to_owned(), Some(arg.to_owned())),
        None => (rest.to_owned(), None),
    }
}

/// Recognises `line` (a frame's first line); before authentication only `auth`,
/// `userauth` and `exit` mean anything.
pub fn parse(line: &str, authenticated: bool) -> Command {
    if has_prefix(line, "exit") || has_prefix(line, "...") {
        return Command::Exit;
    }
    if !authenticated {
        return if has_prefix(line, "auth ") {
            Command::Auth(line[5..].to_owned())
        } else if has_prefix(line, "userauth ") {
            Command::UserAuth
        } else {
            Command::NotAuthenticated
        };
    }
    if has_prefix(line, "filter ") {
        return Command::Filter(line[7..].to_owned());
    }
    if has_prefix(line, "myevents ") {
        return Command::MyEvents(line[9..].to_owned());
    }
    if has_prefix(line, "divert_events") {
        return Command::DivertEvents;
    }
    if has_prefix(line, "sendmsg") {
        return Command::SendMsg(line[7..].trim_matches(' ').to_owned());
    }
    if has_prefix(line, "sendevent") {
        return Command::SendEvent(line[9..].trim_matches([' ', '\t']).to_owned());
    }
    if has_prefix(line, "api ") {
        let (command, arg) = api_parts(&line[4..]);
        return Command::Api { command, arg };
    }
    if has_prefix(line, "bgapi ") {
        let (command, arg) = api_parts(&line[6..]);
        return Command::BgApi { command, arg };
    }
    if has_prefix(line, "log") {
        // FreeSWITCH skips exactly one character after `log`.
        let level = line.get(3..).map_or("", |rest| {
            let mut chars = rest.chars();
            chars.next();
            chars.as_str()
        });
        return Command::Log(level.to_owned());
    }
    if has_prefix(line, "linger") {
        return Command::Linger;
    }
    if has_prefix(line, "nolinger") {
        return Command::NoLinger;
    }
    if has_prefix(line, "nolog") {
        return Command::NoLog;
    }
    if has_prefix(line, "event") {
        return Command::Event(words_after(line, 5));
    }
    if has_prefix(line, "nixevent") {
        return Command::NixEvent(words_after(line, 5));
    }
    if has_prefix(line, "noevents") {
        return Command::NoEvents;
    }
    Command::Unknown
}

/// A log level word as `switch_log_str2level` reads it: a number (clamped to 0..=63) or a
/// level name; `None` for anything else. An empty word means debug (7).
pub fn log_level(word: &str) -> Option<u8> {
    const NAMES: [&str; 8] = [
        "console", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    if word.is_empty() {
        return Some(7);
    }
    let digits = word.strip_prefix('-').unwrap_or(word);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if word.starts_with('-') {
            return Some(0);
        }
        return Some(digits.parse::<u32>().map_or(63, |n| n.min(63) as u8));
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(word))
        .map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_like_freeswitch() {
        assert_eq!(parse("exit", false), Command::Exit);
        assert_eq!(parse("api status", false), Command::NotAuthenticated);
        assert_eq!(
            parse("AUTH ClueCon", false),
            Command::Auth("ClueCon".into())
        );
        assert_eq!(parse("auth", false), Command::NotAuthenticated);
        assert_eq!(
            parse("api status", true),
            Command::Api {
                command: "status".into(),
                arg: None
            }
        );
        assert_eq!(
            parse("bgapi db insert/a/b/c d", true),
            Command::BgApi {
                command: "db".into(),
                arg: Some("insert/a/b/c d".into())
            }
        );
        assert_eq!(
            parse("events plain ALL", true),
            Command::Event("plain ALL".into())
        );
        assert_eq!(parse("event", true), Command::Event(String::new()));
        assert_eq!(
            parse("nixevent CHANNEL_ANSWER", true),
            Command::NixEvent("CHANNEL_ANSWER".into())
        );
        assert_eq!(parse("log debug", true), Command::Log("debug".into()));
        assert_eq!(parse("log", true), Command::Log(String::new()));
        assert_eq!(parse("nolog", true), Command::NoLog);
        assert_eq!(parse("noevents", true), Command::NoEvents);
        assert_eq!(parse("apistatus", true), Command::Unknown);
        assert_eq!(parse("é", true), Command::Unknown);
    }

    #[test]
    fn log_levels() {
        assert_eq!(log_level(""), Some(7));
        assert_eq!(log_level("DEBUG"), Some(7));
        assert_eq!(log_level("err"), Some(3));
        assert_eq!(log_level("5"), Some(5));
        assert_eq!(log_level("900"), Some(63));
        assert_eq!(log_level("-3"), Some(0));
        assert_eq!(log_level("ebug"), None);
    }
}

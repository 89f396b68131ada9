//! FreeSWITCH's Event Socket, inbound mode (`mod_event_socket`).
//!
//! Wire format: a client command is a line, optional `Name: value` header lines, and an empty
//! line (a `Content-Length` header announces a body); the server answers with
//! `Content-Type: auth/request` on connect, `command/reply` (`Reply-Text: +OK …` / `-ERR …`),
//! `api/response` (with `Content-Length`), events as `text/event-plain|json|xml`, and
//! `text/disconnect-notice` before it closes. Byte formats follow FreeSWITCH 1.10's
//! `mod_event_socket.c`, `switch_event.c` (`switch_event_serialize`,
//! `switch_event_serialize_json`, `switch_event_xmlize`) and `switch_utils.c`
//! (`switch_url_encode`).
//!
//! Layers: [`codec`] (bytes → frames, replies → bytes), [`command`] (frames → commands),
//! [`event`] (an event and its three encodings), [`subscription`] (what a connection asked
//! for), [`session`] (one connection's state machine, sans-IO), [`render`] (engine events →
//! FreeSWITCH events), [`channels`] (live calls for `show channels`), and [`server`] (tokio).

pub mod channels;
pub mod codec;
pub mod command;
pub mod event;
pub mod names;
pub mod render;
pub mod server;
pub mod session;
pub mod subscription;
pub mod urlenc;

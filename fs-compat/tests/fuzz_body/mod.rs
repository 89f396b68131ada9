//! The body of the `esl` cargo-fuzz target, shared with the stable smoke test
//! (`tests/fuzz_smoke.rs`): arbitrary bytes as an Event Socket client's stream.
//!
//! Nothing may panic; framing must not depend on how the bytes were split; every frame goes
//! through an unauthenticated and an authenticated session, the API argument parsers, and
//! back out as an event in all three encodings (the JSON one must parse); URL encoding must
//! leave nothing unsafe.

use fs_compat::api::{originate, show};
use fs_compat::esl::codec::{Decoder, Frame};
use fs_compat::esl::event::{EslEvent, EventFormat};
use fs_compat::esl::session::{Action, Session};
use fs_compat::esl::urlenc;

fn drain(decoder: &mut Decoder, frames: &mut Vec<Frame>) -> bool {
    loop {
        match decoder.poll_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// Runs one input.
pub fn esl(data: &[u8]) {
    let mut whole = Decoder::new();
    whole.feed(data);
    let mut frames = Vec::new();
    let whole_ok = drain(&mut whole, &mut frames);

    let split = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
    let mut parts = Decoder::new();
    let mut split_frames = Vec::new();
    parts.feed(&data[..split]);
    let mut parts_ok = drain(&mut parts, &mut split_frames);
    if parts_ok {
        parts.feed(&data[split..]);
        parts_ok = drain(&mut parts, &mut split_frames);
    }
    if whole_ok && parts_ok {
        assert_eq!(frames, split_frames, "framing depends on the split");
        assert_eq!(whole.buffered(), parts.buffered());
    }

    let mut n = 0u32;
    let mut ids = move || {
        n += 1;
        format!("id-{n}")
    };
    let mut guest = Session::new("pw");
    let mut user = Session::new("pw");
    user.handle(
        &Frame {
            command: "auth pw".to_owned(),
            ..Frame::default()
        },
        &mut ids,
    );
    for frame in &frames {
        guest.handle(frame, &mut ids);
        for action in user.handle(frame, &mut ids) {
            match action {
                Action::Api { command, arg } | Action::BgApi { command, arg, .. } => {
                    let arg = arg.unwrap_or_default();
                    let _ = originate::parse(&arg);
                    let _ = show::show(Some(&arg), &[], "h");
                    let _ = command.len();
                }
                Action::Publish(event) => {
                    let _ = user.encode_event(&event);
                }
                Action::Send(_) | Action::Close => {}
            }
        }
        let mut event = EslEvent::new();
        event.push("Event-Name", frame.command.as_str());
        for (name, value) in &frame.headers {
            event.push(name.as_str(), value.as_str());
        }
        if let Some(body) = &frame.body {
            event.set_body(String::from_utf8_lossy(body).into_owned());
        }
        let _ = user.encode_event(&event);
        let _ = event.serialize(EventFormat::Plain);
        let _ = event.serialize(EventFormat::Xml);
        let json = event.serialize(EventFormat::Json);
        assert!(
            serde_json::from_str::<serde_json::Value>(&json).is_ok(),
            "invalid JSON event: {json}"
        );
    }

    let text = String::from_utf8_lossy(data);
    let encoded = urlenc::encode(&text);
    assert!(
        encoded
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"\r\n #&+:;<=>?@[\\]^`{|}\"".contains(&b)),
        "unsafe byte left by the URL encoder: {encoded}"
    );
    let _ = urlenc::decode(&text);
}

//! The Event Socket over real TCP, checked byte for byte against FreeSWITCH's wire format
//! (`mod_event_socket.c`): greeting, authentication, replies, `api`/`bgapi`, subscriptions,
//! filters, events of the engine, and the API commands.

mod common;

use common::{call_info, fixture, fixture_with, Message, RawClient, PASSWORD};
use engine::call::FaxDirection;
use engine::events::EngineEvent;
use fs_compat::EslConfig;

const GOODBYE: &str = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";

fn reply(text: &str) -> String {
    format!("Content-Type: command/reply\nReply-Text: {text}\n\n")
}

fn api(body: &str) -> String {
    format!(
        "Content-Type: api/response\nContent-Length: {}\n\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn wrong_password_is_refused_and_disconnected() {
    let fx = fixture().await;
    let mut c = RawClient::connect(&fx).await;
    assert_eq!(c.read().await.wire(), "Content-Type: auth/request\n\n");
    assert_eq!(
        c.command("api status").await.wire(),
        reply("-ERR command not found")
    );
    assert_eq!(c.command("auth wrong").await.wire(), reply("-ERR invalid"));
    assert_eq!(c.read().await.wire(), GOODBYE);
    assert_eq!(c.try_read().await, None);
}

#[tokio::test]
async fn exit_says_goodbye() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    assert_eq!(c.command("exit").await.wire(), reply("+OK bye"));
    assert_eq!(c.read().await.wire(), GOODBYE);
    assert_eq!(c.try_read().await, None);
}

#[tokio::test]
async fn crlf_framing_and_unknown_commands() {
    let fx = fixture().await;
    let mut c = RawClient::connect(&fx).await;
    c.read().await;
    c.send(format!("\r\nauth {PASSWORD}\r\n\r\n").as_bytes())
        .await;
    assert_eq!(c.read().await.wire(), reply("+OK accepted"));
    assert_eq!(
        c.command("fly away").await.wire(),
        reply("-ERR command not found")
    );
    assert_eq!(
        c.command("api fly").await.wire(),
        api("-ERR fly Command not found!\n")
    );
    assert_eq!(
        c.command("linger").await.wire(),
        reply("-ERR not controlling a session")
    );
    assert_eq!(
        c.command("log 6").await.wire(),
        reply("+OK log level 6 [6]")
    );
    assert_eq!(
        c.command("nolog").await.wire(),
        reply("+OK no longer logging")
    );
    assert_eq!(c.command("nolog").await.wire(), reply("-ERR not loging"));
}

#[tokio::test]
async fn api_status_version_and_empty_replies() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    let status = c.command("api status").await;
    assert_eq!(status.header("Content-Type"), Some("api/response"));
    assert_eq!(
        status.header("Content-Length"),
        Some(status.body.len().to_string().as_str())
    );
    let lines: Vec<&str> = status.body.lines().collect();
    assert!(
        lines[0].starts_with("UP 0 years, 0 days, 0 hours, 0 minutes, "),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("FreeSWITCH (Version 1.10.12 "));
    assert_eq!(lines[2], "0 session(s) since startup");
    assert_eq!(lines[3], "0 session(s) - peak 0, last 5min 0 ");
    let version = c.command("api version short").await;
    assert_eq!(version.wire(), api("1.10.12\n"));
    // An empty reply is sent as FreeSWITCH sends it.
    assert_eq!(
        c.command("api db select/nothing/here").await.wire(),
        api("-ERR no reply\n")
    );
    assert_eq!(c.command("api hostname").await.wire(), api("faxhost"));
}

#[tokio::test]
async fn bgapi_replies_then_publishes_background_job() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    assert_eq!(
        c.command("event plain BACKGROUND_JOB").await.wire(),
        reply("+OK event listener enabled plain")
    );
    c.send(b"bgapi version short\nJob-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n\n")
        .await;
    assert_eq!(
        c.read().await.wire(),
        "Content-Type: command/reply\nReply-Text: +OK Job-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\nJob-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n\n"
    );
    let job = c.read().await;
    assert_eq!(job.header("Content-Type"), Some("text/event-plain"));
    assert_eq!(
        job.head,
        format!(
            "Content-Length: {}\nContent-Type: text/event-plain\n\n",
            job.body.len()
        )
    );
    assert!(job
        .body
        .starts_with("Event-Name: BACKGROUND_JOB\nCore-UUID: "));
    assert_eq!(
        job.event_header("Job-UUID").as_deref(),
        Some("7f4db78a-17d7-11dd-b7a0-db4edd065621")
    );
    assert_eq!(job.event_header("Job-Command").as_deref(), Some("version"));
    assert_eq!(
        job.event_header("Job-Command-Arg").as_deref(),
        Some("short")
    );
    assert!(
        job.body.ends_with("Content-Length: 8\n\n1.10.12\n"),
        "{}",
        job.body
    );

    // api bgapi …: mod_commands' form, reply in the api/response.
    let r = c.command("api bgapi db insert/realm/key/value").await;
    let uuid = r
        .body
        .strip_prefix("+OK Job-UUID: ")
        .unwrap()
        .trim_end()
        .to_owned();
    let job = c.read().await;
    assert_eq!(job.event_header("Job-UUID"), Some(uuid));
    assert!(job.body.ends_with("\n\n+OK"));
}

#[tokio::test]
async fn json_and_xml_events() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    assert_eq!(
        c.command("event json BACKGROUND_JOB").await.wire(),
        reply("+OK event listener enabled json")
    );
    c.command("bgapi version short").await;
    let job = c.read().await;
    assert_eq!(job.header("Content-Type"), Some("text/event-json"));
    let json: serde_json::Value = serde_json::from_str(&job.body).unwrap();
    assert_eq!(json["Event-Name"], "BACKGROUND_JOB");
    assert_eq!(json["_body"], "1.10.12\n");
    assert_eq!(json["Content-Length"], "8");
    assert!(job
        .body
        .starts_with("{\"Event-Name\":\"BACKGROUND_JOB\",\"Core-UUID\":"));

    assert_eq!(
        c.command("event xml BACKGROUND_JOB").await.wire(),
        reply("+OK event listener enabled xml")
    );
    c.command("bgapi version short").await;
    let job = c.read().await;
    assert_eq!(job.header("Content-Type"), Some("text/event-xml"));
    assert!(job
        .body
        .starts_with("<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>\n"));
    assert!(job.body.ends_with(
        "  </headers>\n  <Content-Length>8</Content-Length>\n  <body>1.10.12\n</body>\n</event>\n"
    ));
}

async fn subscribed(fx: &common::Fixture, subscription: &str) -> RawClient {
    let mut c = RawClient::authenticated(fx).await;
    let r = c.command(subscription).await;
    assert_eq!(
        r.header("Reply-Text"),
        Some("+OK event listener enabled plain")
    );
    c
}

#[tokio::test]
async fn engine_events_as_freeswitch_events_with_filters() {
    let fx = fixture().await;
    let mut c = subscribed(
        &fx,
        "event plain CHANNEL_CREATE CHANNEL_CALLSTATE CUSTOM spandsp::rxfaxresult",
    )
    .await;
    assert_eq!(
        c.command("filter Unique-ID call-b").await.wire(),
        reply("+OK filter added. [Unique-ID]=[call-b]")
    );
    fx.bus.publish(EngineEvent::CallCreated {
        call: call_info("call-a", None, FaxDirection::Receive),
    });
    fx.bus.publish(EngineEvent::CallCreated {
        call: call_info("call-b", None, FaxDirection::Receive),
    });
    let create = c.read().await;
    assert_eq!(
        create.event_header("Event-Name").as_deref(),
        Some("CHANNEL_CREATE")
    );
    assert_eq!(create.event_header("Unique-ID").as_deref(), Some("call-b"));
    assert_eq!(
        create.event_header("Call-Direction").as_deref(),
        Some("inbound")
    );
    assert_eq!(
        create.event_header("Caller-Caller-ID-Number").as_deref(),
        Some("15550001")
    );
    assert_eq!(
        create.event_header("Caller-Destination-Number").as_deref(),
        Some("15551234")
    );
    assert_eq!(
        create.event_header("variable_sip_to_user").as_deref(),
        Some("15551234")
    );
    let state = c.read().await;
    assert_eq!(
        state.event_header("Event-Name").as_deref(),
        Some("CHANNEL_CALLSTATE")
    );
    assert_eq!(
        state.event_header("Channel-Call-State").as_deref(),
        Some("RINGING")
    );
    assert_eq!(
        state.event_header("Original-Channel-Call-State").as_deref(),
        Some("DOWN")
    );
    // show channels sees both calls.
    let shown = c.command("api show channels as json").await;
    let json: serde_json::Value = serde_json::from_str(&shown.body).unwrap();
    assert_eq!(json["row_count"], 2);
    let count = c.command("api show calls count").await;
    assert_eq!(count.wire(), api("\n2 total.\n"));
    assert_eq!(
        c.command("filter delete Unique-ID call-b").await.wire(),
        reply("+OK filter deleted. [Unique-ID][call-b]")
    );
    assert_eq!(
        c.command("noevents").await.wire(),
        reply("+OK no longer listening for events")
    );
}

async fn body(c: &mut RawClient, cmd: &str) -> String {
    c.command(&format!("api {cmd}")).await.body
}

#[tokio::test]
async fn db_commands_over_the_socket() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    let c = &mut c;
    assert_eq!(
        body(c, "db insert/override-5551234/fax_use_ecm/false").await,
        "+OK"
    );
    assert_eq!(
        body(c, "db insert/override-5551234/fax_enable_t38/true").await,
        "+OK"
    );
    assert_eq!(
        body(c, "db select/override-5551234/fax_use_ecm").await,
        "false"
    );
    assert_eq!(
        body(c, "db exists/override-5551234/fax_use_ecm").await,
        "true"
    );
    assert_eq!(body(c, "db exists/override-5551234/nope").await, "false");
    assert_eq!(body(c, "db count/override-5551234").await, "2");
    assert_eq!(
        body(c, "db list/override-5551234").await,
        "fax_enable_t38,fax_use_ecm"
    );
    assert_eq!(
        body(c, "db delete/override-5551234/fax_use_ecm").await,
        "+OK"
    );
    assert_eq!(body(c, "db list/override-5551234").await, "fax_enable_t38");
    assert_eq!(body(c, "db list/override-0000").await, "-ERR no reply\n");
    assert_eq!(body(c, "db insert/only/two").await, "!err!");
    assert_eq!(body(c, "db").await, "!err!");
    assert_eq!(body(c, "db frobnicate/a/b").await, "!err!");
    assert_eq!(body(c, "db insert/realm/url/http://x/y z").await, "+OK");
    assert_eq!(body(c, "db select/realm/url").await, "http://x/y z");
}

#[tokio::test]
async fn sofia_status_from_the_store() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    let status = c.command("api sofia status").await.body;
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[3],
        "           faxserver::gw1\tgateway\t          sip:faxuser@carrier.example:5060\tREGED"
    );
    let gw = c.command("api sofia status gateway gw1").await.body;
    assert!(gw.contains("\nName    \tgw1\n"));
    assert!(gw.contains("\nUsername\tfaxuser\n"));
    assert!(gw.contains("\nPassword\tyes\n"));
    assert!(!gw.contains("secret"));
    assert!(gw.contains("\nState   \tREGED\n"));
    assert_eq!(
        c.command("api sofia status gateway nope").await.body,
        "Invalid Gateway!\n"
    );
    assert_eq!(
        c.command("api sofia profile faxserver rescan").await.body,
        "+OK scan complete\n"
    );
    assert_eq!(c.command("api reloadxml").await.body, "+OK [Success]\n");
    assert_eq!(*fx.backend.reloads.lock().unwrap(), 2);
}

#[tokio::test]
async fn originate_queues_a_fax_and_waits_for_the_answer() {
    let fx = fixture().await;
    let mut c = subscribed(&fx, "event plain CHANNEL_ANSWER").await;
    let uuid = "3f0c2b6e-1111-4c1e-9a57-000000000001";
    let r = c
        .command(&format!(
            "api originate {{origination_uuid='{uuid}',fax_ident='+1 555 0001',fax_header='ACME Corp',fax_use_ecm='false',fax_enable_t38='true'}}sofia/gateway/gw1/15551234 &txfax(/tmp/doc.tif)"
        ))
        .await;
    assert_eq!(r.wire(), api(&format!("+OK {uuid}\n")));
    let request = fx.backend.requests.lock().unwrap()[0].clone();
    assert_eq!(request.job_uuid, uuid);
    assert_eq!(request.targets[0].gateway, "gw1");
    assert_eq!(request.options.ident.as_deref(), Some("+1 555 0001"));
    assert_eq!(request.options.use_ecm, Some(false));
    assert_eq!(request.document.to_str(), Some("/tmp/doc.tif"));
    // Events of the job's calls carry the client's uuid and its variables.
    let answer = c.read().await;
    assert_eq!(answer.event_header("Unique-ID").as_deref(), Some(uuid));
    assert_eq!(
        answer.event_header("variable_fax_ident").as_deref(),
        Some("+1 555 0001")
    );
    assert_eq!(
        answer.event_header("variable_fax_ecm_requested").as_deref(),
        Some("0")
    );
    // uuid_kill finds the live call by that uuid.
    assert_eq!(
        c.command(&format!("api uuid_kill {uuid}")).await.body,
        "+OK\n"
    );
    let (target, cause) = fx.backend.hangups.lock().unwrap()[0].clone();
    assert_eq!(target.call_uuid.as_deref(), Some("engine-call-1"));
    assert_eq!(cause, "NORMAL_CLEARING");
    assert_eq!(
        c.command("api uuid_kill nobody").await.body,
        "-ERR No such channel!\n"
    );
    assert_eq!(
        c.command(&format!("api uuid_exists {uuid}")).await.body,
        "true"
    );

    assert_eq!(
        c.command("api originate {a=b}sofia/gateway/unknown/1 &txfax(/f.tif)")
            .await
            .body,
        "-ERR INVALID_GATEWAY\n"
    );
    assert_eq!(
        c.command("api originate user/1000 &txfax(/f.tif)")
            .await
            .body,
        "-ERR CHAN_NOT_IMPLEMENTED\n"
    );
    assert!(c
        .command("api originate")
        .await
        .body
        .starts_with("-USAGE: <call url> "));
}

#[tokio::test]
async fn originate_without_news_answers_ok_after_the_wait() {
    let fx = fixture_with(
        false,
        EslConfig {
            originate_grace: std::time::Duration::ZERO,
            ..EslConfig::default()
        },
    )
    .await;
    let mut c = RawClient::authenticated(&fx).await;
    let r = c
        .command("api originate {originate_timeout=0}sofia/gateway/gw1/1 &txfax(/f.tif)")
        .await;
    let job = fx.backend.requests.lock().unwrap()[0].job_uuid.clone();
    assert_eq!(r.body, format!("+OK {job}\n"));
}

#[tokio::test]
async fn shutdown_notifies_clients() {
    let fx = fixture().await;
    let mut c = RawClient::authenticated(&fx).await;
    let common::Fixture { server, .. } = fx;
    server.shutdown().await;
    assert_eq!(
        c.read().await,
        Message {
            head: "Content-Type: text/disconnect-notice\nContent-Length: 31\n\n".to_owned(),
            body: "The system is being shut down.\n".to_owned()
        }
    );
}

#[tokio::test]
async fn heartbeats_when_configured() {
    let fx = fixture_with(
        true,
        EslConfig {
            heartbeat: Some(std::time::Duration::from_millis(50)),
            ..EslConfig::default()
        },
    )
    .await;
    let mut c = subscribed(&fx, "event plain HEARTBEAT").await;
    let beat = c.read().await;
    assert_eq!(
        beat.event_header("Event-Name").as_deref(),
        Some("HEARTBEAT")
    );
    assert_eq!(
        beat.event_header("Event-Info").as_deref(),
        Some("System Ready")
    );
    assert_eq!(
        beat.event_header("FreeSWITCH-Hostname").as_deref(),
        Some("faxhost")
    );
    assert_eq!(beat.event_header("Session-Count").as_deref(), Some("0"));
    assert!(beat
        .event_header("Up-Time")
        .is_some_and(|u| u.starts_with("0 years, 0 days, ")));
}

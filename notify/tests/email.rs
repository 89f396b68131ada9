//! E-mail against a real SMTP server on loopback (aiosmtpd): each encryption mode with
//! authentication, the fax as a PDF (and TIFF) attachment that decodes to the bytes sent,
//! gofaxserver's report e-mails, retries while the server is down, and a refused login.

mod common;

use std::time::Duration;

use common::smtp::{free_port, tls_files, Mode, SmtpServer, Stored, TlsFiles};
use common::*;
use engine::documents::fax_tiff_to_pdf;
use notify::*;
use store::*;

const USER: &str = "faxserver";
const PASSWORD: &str = "correct horse battery staple";

fn smtp(port: u16, encryption: Encryption, tls: Option<&TlsFiles>, password: &str) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        encryption,
        username: USER.into(),
        password: password.into(),
        from_address: "fax@example.invalid".into(),
        from_name: "Fax Server".into(),
        extra_root_pem: tls.map(|t| t.ca_pem.clone()),
        timeout: Duration::from_secs(10),
    }
}

struct Rig {
    notifier: Notifier,
    sender: DeliverySender,
}

fn rig(e: &Env, clock: &Clock, cfg: SmtpConfig, attach_tiff: bool) -> Rig {
    let mailer = Mailer::new(&cfg).expect("mailer");
    let notifier = Notifier::new(
        e.store.clone(),
        clock.clone(),
        NotifyConfig {
            smtp: Some(cfg),
            attach_tiff,
        },
    );
    let sender = DeliverySender::new(
        e.store.clone(),
        clock.clone(),
        Some(mailer),
        SenderConfig::default(),
    )
    .expect("sender");
    Rig { notifier, sender }
}

/// Attachments of a message: (file name, decoded bytes).
fn attachments(raw: &[u8]) -> (mailparse::ParsedMail<'_>, Vec<(String, Vec<u8>)>) {
    let mail = mailparse::parse_mail(raw).expect("parse message");
    let mut out = Vec::new();
    for part in &mail.subparts {
        let cd = part.get_content_disposition();
        if cd.disposition == mailparse::DispositionType::Attachment {
            let name = cd.params.get("filename").cloned().unwrap_or_default();
            out.push((name, part.get_body_raw().expect("body")));
        }
    }
    (mail, out)
}

fn subject(mail: &mailparse::ParsedMail<'_>) -> String {
    use mailparse::MailHeaderMap;
    mail.headers.get_first_value("Subject").unwrap_or_default()
}

async fn fax_email(mode: Mode, encryption: Encryption) -> (Job, Vec<u8>, Stored) {
    let e = env().await;
    let tls = (mode != Mode::None).then(tls_files);
    let port = free_port();
    let mut server = SmtpServer::start(port, mode, tls.as_ref(), Some((USER, PASSWORD))).await;
    let (clock, _hand) = Clock::manual(t0());
    let r = rig(
        &e,
        &clock,
        smtp(port, encryption, tls.as_ref(), PASSWORD),
        true,
    );
    endpoint(
        &e,
        EndpointKind::Email,
        "desk@example.invalid; boss@example.invalid",
        1,
    )
    .await;
    let tiff = fax_tiff();
    let job = received_fax(&e, &tiff).await;
    let ids = r
        .notifier
        .deliver_received(e.tenant.id, job.id)
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 1);
    assert_eq!(r.sender.run_due().await.expect("pass"), 1);
    let stored = server.next_message().await;
    let d = e.delivery(ids[0]).await;
    assert_eq!(
        (d.status, d.last_status),
        (DeliveryStatus::Delivered, Some(250)),
        "{}",
        d.last_error
    );
    (job, tiff, stored)
}

fn check_fax_email(job: &Job, tiff: &[u8], stored: &Stored) {
    assert_eq!(stored.auth, USER, "authenticated");
    assert_eq!(
        stored.to,
        vec!["desk@example.invalid", "boss@example.invalid"]
    );
    let (mail, files) = attachments(&stored.raw);
    assert_eq!(subject(&mail), "Fax from +442071234567 to +12125550199");
    let pdf = fax_tiff_to_pdf(tiff).expect("pdf");
    assert_eq!(
        files.len(),
        2,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(files[0].0, format!("fax_{}.pdf", job.id.0));
    assert_eq!(
        files[0].1, pdf,
        "the PDF attachment decodes to the fax as PDF"
    );
    assert_eq!(files[1].0, format!("fax_{}.tif", job.id.0));
    assert_eq!(files[1].1, tiff, "the TIFF attachment is the received fax");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fax_email_over_starttls_with_auth() {
    let (job, tiff, stored) = fax_email(Mode::StartTls, Encryption::StartTls).await;
    assert!(stored.tls, "upgraded with STARTTLS");
    check_fax_email(&job, &tiff, &stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fax_email_over_implicit_tls_with_auth() {
    let (job, tiff, stored) = fax_email(Mode::Tls, Encryption::Tls).await;
    assert!(stored.tls, "TLS from the first byte");
    check_fax_email(&job, &tiff, &stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fax_email_over_plain_smtp_with_auth() {
    let (job, tiff, stored) = fax_email(Mode::None, Encryption::None).await;
    assert!(!stored.tls);
    check_fax_email(&job, &tiff, &stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_required_not_optional() {
    // A server without STARTTLS: the mailer must not fall back to plain text.
    let e = env().await;
    let port = free_port();
    let _server = SmtpServer::start(port, Mode::None, None, None).await;
    let (clock, _hand) = Clock::manual(t0());
    let tls = tls_files();
    let r = rig(
        &e,
        &clock,
        smtp(port, Encryption::StartTls, Some(&tls), PASSWORD),
        false,
    );
    endpoint(&e, EndpointKind::Email, "desk@example.invalid", 1).await;
    let job = received_fax(&e, &fax_tiff()).await;
    let id = r
        .notifier
        .deliver_received(e.tenant.id, job.id)
        .await
        .expect("enqueue")[0];
    assert_eq!(r.sender.run_due().await.expect("pass"), 1);
    let d = e.delivery(id).await;
    assert_ne!(d.status, DeliveryStatus::Delivered, "sent without STARTTLS");
    assert!(!d.last_error.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_email_is_retried_while_the_server_is_down() {
    let e = env().await;
    e.set_tenant_notify("email_report->ops@example.invalid;boss@example.invalid, email_full_failure->fail@example.invalid, webhook_form").await;
    let port = free_port();
    let tls = tls_files();
    let (clock, hand) = Clock::manual(t0());
    let r = rig(
        &e,
        &clock,
        smtp(port, Encryption::Tls, Some(&tls), PASSWORD),
        false,
    );
    let job = received_fax(&e, &fax_tiff()).await;
    // One successful attempt: email_full_failure does not apply.
    let a = e
        .store
        .start_attempt(&NewAttempt {
            job_id: job.id,
            endpoint_id: None,
            gateway_id: None,
            started_at: t0(),
        })
        .await
        .expect("attempt");
    e.store
        .finish_attempt(
            a.id,
            &AttemptOutcome {
                ended_at: t0(),
                result_code: 0,
                result_text: "OK".into(),
                pages: 2,
            },
        )
        .await
        .expect("finish");
    let ids = r
        .notifier
        .job_finished(e.tenant.id, job.id)
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 1, "email_report only");

    // Nobody listens: the try fails and is scheduled again.
    assert_eq!(r.sender.run_due().await.expect("pass"), 1);
    let d = e.delivery(ids[0]).await;
    assert_eq!(
        (d.status, d.attempts, d.last_status),
        (DeliveryStatus::Pending, 1, None)
    );
    assert!(!d.last_error.is_empty());
    let due = d.next_attempt_at;
    assert!(due > t0());
    assert_eq!(
        r.sender.run_due().await.expect("pass"),
        0,
        "not before its time"
    );

    // The server comes up; the next try delivers.
    let mut server = SmtpServer::start(port, Mode::Tls, Some(&tls), Some((USER, PASSWORD))).await;
    hand.set(due);
    assert_eq!(r.sender.run_due().await.expect("pass"), 1);
    let stored = server.next_message().await;
    let d = e.delivery(ids[0]).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 2));
    let tries = e
        .store
        .list_delivery_attempts(None, ids[0])
        .await
        .expect("log");
    assert_eq!(
        tries.iter().map(|t| t.status_code).collect::<Vec<_>>(),
        vec![None, Some(250)]
    );

    assert_eq!(
        stored.to,
        vec!["ops@example.invalid", "boss@example.invalid"]
    );
    let (mail, files) = attachments(&stored.raw);
    assert_eq!(subject(&mail), "Fax Report");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, format!("notify_{}.pdf", job.id.0));
    assert!(files[0].1.starts_with(b"%PDF-"));
    // The report's text, read back by poppler where it is installed.
    if let Some(text) = pdftotext(&files[0].1) {
        for needle in [
            "Fax Results Report",
            &format!("ID: {}", job.id.0),
            "Caller: +442071234567",
            "success (gateway)",
            "OK",
        ] {
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_report_on_failure_attaches_the_fax() {
    let e = env().await;
    e.set_tenant_notify("email_full_failure->fail@example.invalid")
        .await;
    let port = free_port();
    let mut server = SmtpServer::start(port, Mode::None, None, Some((USER, PASSWORD))).await;
    let (clock, _hand) = Clock::manual(t0());
    let r = rig(
        &e,
        &clock,
        smtp(port, Encryption::None, None, PASSWORD),
        false,
    );
    let tiff = fax_tiff();
    let job = received_fax(&e, &tiff).await;
    let ids = r
        .notifier
        .job_finished(e.tenant.id, job.id)
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 1, "no attempt succeeded");
    assert_eq!(r.sender.run_due().await.expect("pass"), 1);
    let stored = server.next_message().await;
    let (mail, files) = attachments(&stored.raw);
    assert_eq!(subject(&mail), "Full Fax Report");
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("notify_{}.pdf", job.id.0),
            format!("fax_{}.pdf", job.id.0)
        ]
    );
    assert_eq!(files[1].1, fax_tiff_to_pdf(&tiff).expect("pdf"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_final_refusal() {
    let e = env().await;
    let port = free_port();
    let _server = SmtpServer::start(port, Mode::None, None, Some((USER, PASSWORD))).await;
    let (clock, _hand) = Clock::manual(t0());
    let r = rig(
        &e,
        &clock,
        smtp(port, Encryption::None, None, "wrong"),
        false,
    );
    endpoint(&e, EndpointKind::Email, "desk@example.invalid", 1).await;
    let job = received_fax(&e, &fax_tiff()).await;
    let id = r
        .notifier
        .deliver_received(e.tenant.id, job.id)
        .await
        .expect("enqueue")[0];
    assert_eq!(r.sender.run_due().await.expect("pass"), 1);
    let d = e.delivery(id).await;
    assert_eq!(
        (d.status, d.last_status),
        (DeliveryStatus::Failed, Some(535)),
        "{}",
        d.last_error
    );
    assert!(
        !d.last_error.contains("wrong"),
        "the password leaked into the log: {}",
        d.last_error
    );
}

/// The text of a PDF, when `pdftotext` is installed.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).ok()?;
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

//! The date in a sent fax's header line follows the sending number's or tenant's time zone:
//! two loopback faxes (real SIP, real UDP, real SpanDSP) whose header bands differ exactly
//! in the clock cells between UTC and Pacific/Kiritimati (UTC+14), and the queue's choice of
//! zone (number first, then tenant) read from a real SQLite store.

mod common;

use chrono::Utc;
use common::loopback::Loopback;
use engine::call::{FaxOptions, T38Mode};
use engine::documents::FaxPage;
use store::{NewDocument, NewJob, NewNumber, NewTenant, NumberRules, SqliteStore, Store};

const HEADER: &str = "ACME Corp - header time zone test";
/// SpanDSP's header font is 16 pixels (2 bytes) per character.
const CELL: usize = 2;

/// Sends ITU chart 1 with `header_tz` (a POSIX rule) over T.38; returns the sent and the
/// received page.
async fn send_one(header_tz: String) -> (FaxPage, FaxPage) {
    let dir = tempfile::tempdir().unwrap();
    let tiff = common::charts_tiff(&common::itu_charts(1));
    let receiver = FaxOptions {
        ident: "RECEIVER".to_owned(),
        t38: T38Mode::Accept,
        ..FaxOptions::default()
    };
    let sender = FaxOptions {
        ident: "+1 555 0001".to_owned(),
        header: Some(HEADER.to_owned()),
        header_tz: Some(header_tz),
        t38: T38Mode::Request,
        t38_in_invite: true,
        ..FaxOptions::default()
    };
    let ends = Loopback::new(sender, receiver, 4)
        .run(dir.path(), &tiff)
        .await;
    assert!(ends.send.is_success(), "sender: {}", ends.send.summary());
    assert!(
        ends.receive.is_success(),
        "receiver: {}",
        ends.receive.summary()
    );
    let mut sent = common::pages_of(&ends.send_path);
    let mut received = common::pages_of(&ends.rx_path);
    assert_eq!((sent.len(), received.len()), (1, 1));
    (sent.remove(0), received.remove(0))
}

/// The header band's rows of `page` (the rows SpanDSP added above the image), with the
/// image below checked against the sent page pixel for pixel.
fn header_band(sent: &FaxPage, received: &FaxPage) -> Vec<Vec<u8>> {
    let (s, r) = (&sent.bitmap, &received.bitmap);
    assert_eq!(s.width, r.width);
    let band = (r.height - s.height) as usize;
    // 16 font rows, doubled at fine resolution.
    assert!(band == 16 || band == 32, "header band of {band} rows");
    let stride = r.stride();
    assert_eq!(
        &r.data[band * stride..],
        &s.data[..],
        "the image below the header"
    );
    let rows: Vec<Vec<u8>> = r.data[..band * stride]
        .chunks(stride)
        .map(<[u8]>::to_vec)
        .collect();
    assert!(
        rows.iter().any(|row| row.iter().any(|&b| b != 0)),
        "band is blank"
    );
    rows
}

/// Bytes of character cells `cells` in every row of a band.
fn cells(band: &[Vec<u8>], cells: std::ops::Range<usize>) -> Vec<u8> {
    band.iter()
        .flat_map(|row| row[cells.start * CELL..cells.end * CELL].to_vec())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_clock_follows_the_time_zone() {
    let utc = store::header_tz::posix_rule("UTC").unwrap();
    let kiritimati = store::header_tz::posix_rule("Pacific/Kiritimati").unwrap();
    let (sent_a, received_a) = send_one(utc).await;
    let (sent_b, received_b) = send_one(kiritimati).await;
    let a = header_band(&sent_a, &received_a);
    let b = header_band(&sent_b, &received_b);
    // SpanDSP's layout: "  DD-Mon-YYYY  HH:MM    <header, 50> <ident, 21>   p.N".
    // +14 h never shows the same hour (14 is not a multiple of 24).
    assert_ne!(cells(&a, 15..17), cells(&b, 15..17), "the hour cells");
    // Everything after the clock (header text, ident, page number) is the same.
    let width = a[0].len() / CELL;
    assert_eq!(
        cells(&a, 24..width),
        cells(&b, 24..width),
        "header text cells"
    );
    assert_ne!(
        cells(&a, 24..58),
        vec![0; 34 * CELL * a.len()],
        "header text drawn"
    );
}

#[tokio::test]
async fn queue_takes_the_numbers_zone_then_the_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("fax.db")).await.unwrap();
    let now = Utc::now();
    let tenant = store
        .create_tenant(
            &NewTenant {
                name: "acme".into(),
                notify: String::new(),
            },
            now,
        )
        .await
        .unwrap();
    let number = store
        .create_number(
            tenant.id,
            &NewNumber {
                number: NumberRules::nanp().normalize("+15551230001").unwrap(),
                name: String::new(),
                header: HEADER.into(),
                notify: String::new(),
            },
        )
        .await
        .unwrap();
    let doc = NewDocument {
        tenant_id: tenant.id,
        content_type: "image/tiff".into(),
        pages: 1,
        data: vec![0; 8],
    };
    let new_job = NewJob {
        tenant_id: tenant.id,
        direction: store::Direction::Outbound,
        caller: "+15551230001".into(),
        callee: "+15557654321".into(),
        document_id: None,
        priority: 0,
        not_before: now,
    };
    let job = match store.submit_job(&doc, &new_job, None, now).await.unwrap() {
        store::Submission::Created(j) => j,
        other => panic!("{other:?}"),
    };
    let tz = || engine::queue::header_tz(&store, &job);
    assert_eq!(
        tz().await.unwrap(),
        None,
        "nothing set: the server's default"
    );

    assert!(store
        .set_header_tz(tenant.id, None, "Europe/Berlin")
        .await
        .unwrap());
    assert_eq!(
        tz().await.unwrap().as_deref(),
        Some("CET-1CEST,M3.5.0,M10.5.0/3")
    );
    assert!(store
        .set_header_tz(tenant.id, Some(number.id), "Pacific/Kiritimati")
        .await
        .unwrap());
    assert_eq!(tz().await.unwrap().as_deref(), Some("ZZA-14"));
    assert_eq!(
        store
            .get_header_tz(tenant.id, Some(number.id))
            .await
            .unwrap()
            .as_deref(),
        Some("Pacific/Kiritimati")
    );
    // Cleared on the number: the tenant's again.
    assert!(store
        .set_header_tz(tenant.id, Some(number.id), "")
        .await
        .unwrap());
    assert_eq!(
        tz().await.unwrap().as_deref(),
        Some("CET-1CEST,M3.5.0,M10.5.0/3")
    );
    let err = store
        .set_header_tz(tenant.id, None, "Mars/Olympus")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown time zone"), "{err}");
}

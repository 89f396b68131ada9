//! `POST /fax/send` and `GET /fax/{uuid}/document`.

use api::FaxSettings;
use axum::http::{header, Method, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use engine::documents::{check_fax_tiff, read_tiff_pages};
use serde_json::Value;
use store::{Direction, JobStatus, TenantId};

use crate::common::fax::*;
use crate::common::*;

#[tokio::test]
async fn png_chart_is_queued_and_its_document_comes_back_pixel_exact() {
    let h = harness().await;
    let acme = sender(&h.app, "acme", "5550001111").await;
    // The name says PDF; the bytes are a PNG: the content decides.
    let body = multipart(
        &chart_png("spandsp_itu1.pbm"),
        "chart.pdf",
        "(555) 000-1111",
        "+44 20 7123 4567",
    );
    let r = post_multipart(&h.app, &acme.auth, body, &[]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(keys(&r.json), ["job_uuid", "message", "pages", "status"]);
    assert_eq!(
        (&r.json["message"], &r.json["status"], &r.json["pages"]),
        (
            &Value::from("fax enqueued"),
            &Value::from("queued"),
            &Value::from(1)
        )
    );
    let id = r.json["job_uuid"].as_str().unwrap().to_owned();
    assert_eq!(r.headers[header::LOCATION], format!("/fax/{id}").as_str());

    // Committed before the answer: the job is queued, numbers normalised, document stored.
    let job = job_row(h.store.as_ref(), acme.tenant, &id).await;
    assert_eq!(
        (
            job.status,
            job.direction,
            job.caller.as_str(),
            job.callee.as_str()
        ),
        (
            JobStatus::Queued,
            Direction::Outbound,
            "+15550001111",
            "+442071234567"
        )
    );
    let doc = document_of(h.store.as_ref(), acme.tenant, &id).await;
    assert_eq!((doc.content_type.as_str(), doc.pages), ("image/tiff", 1));
    let sha = sha256_hex(&doc.data);
    assert_eq!(doc.sha256.as_deref(), Some(sha.as_str()));
    let pages = read_tiff_pages(&doc.data).expect("stored TIFF decodes");
    assert_eq!(pages.len(), 1);
    // A 1728-pixel-wide image is fax geometry: kept pixel for pixel.
    assert_eq!(pixels(&pages[0].bitmap), chart_bitmap("spandsp_itu1.pbm"));
    let events = h
        .store
        .list_events(Some(TenantId(acme.tenant)), Some(job.id), 10)
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["job.queued"]
    );

    // TIFF on request (query or Accept): the stored bytes exactly.
    let uri = format!("/fax/{id}/document");
    for (query, accept) in [("?format=tiff", "*/*"), ("", "image/tiff")] {
        let d = get_raw(
            &h.app,
            &format!("{uri}{query}"),
            &acme.auth,
            &[("accept", accept)],
        )
        .await;
        assert_eq!(d.status, StatusCode::OK);
        assert_eq!(d.headers[header::CONTENT_TYPE], "image/tiff");
        assert!(d.body == doc.data, "TIFF bytes differ ({query} {accept})");
    }
    // PDF by default: one page that renders back to the very same pixels.
    let d = get_raw(&h.app, &uri, &acme.auth, &[]).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.headers[header::CONTENT_TYPE], "application/pdf");
    assert!(d.body.starts_with(b"%PDF-"));
    assert_eq!(pdf_pages(&d.body), 1);
    let p = &pages[0];
    assert_eq!(
        render_pdf_page(&d.body, 1, p.x_dpi, p.y_dpi),
        pixels(&p.bitmap)
    );
    let bad = get_raw(&h.app, &format!("{uri}?format=docx"), &acme.auth, &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pdf_tiff_and_jpeg_are_recognised_by_their_bytes() {
    let h = harness().await;
    let s = sender(&h.app, "multi", "5550002222").await;

    let two = pdf(&["Page one", "Page two"]);
    let r = send_fax(&h.app, &s.auth, &two, &s.number, "2125550100", None).await;
    assert_eq!(
        (r.status, &r.json["pages"]),
        (StatusCode::ACCEPTED, &Value::from(2)),
        "{}",
        r.text
    );
    let doc = document_of(
        h.store.as_ref(),
        s.tenant,
        r.json["job_uuid"].as_str().unwrap(),
    )
    .await;
    assert_eq!(check_fax_tiff(&doc.data).expect("sendable TIFF-F"), 2);
    // Ghostscript drew the frame and the grey box: the pages are not blank.
    for p in read_tiff_pages(&doc.data).unwrap() {
        assert_eq!(p.bitmap.width, 1728);
        assert!(p.bitmap.black_pixels() > 10_000);
    }

    // A fax TIFF already sendable is stored byte for byte and served back unchanged.
    let tiff = std::fs::read(test_support::fax_image("asterisk-testsuite_send.tiff")).unwrap();
    let r = send_fax(&h.app, &s.auth, &tiff, &s.number, "2125550100", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.json["job_uuid"].as_str().unwrap().to_owned();
    assert!(document_of(h.store.as_ref(), s.tenant, &id).await.data == tiff);
    let d = get_raw(
        &h.app,
        &format!("/fax/{id}/document?format=tiff"),
        &s.auth,
        &[],
    )
    .await;
    assert!(d.body == tiff, "TIFF served back unchanged");

    let r = send_fax(&h.app, &s.auth, &jpeg(), &s.number, "2125550100", None).await;
    assert_eq!(
        (r.status, &r.json["pages"]),
        (StatusCode::ACCEPTED, &Value::from(1)),
        "{}",
        r.text
    );
    let doc = document_of(
        h.store.as_ref(),
        s.tenant,
        r.json["job_uuid"].as_str().unwrap(),
    )
    .await;
    let page = &read_tiff_pages(&doc.data).unwrap()[0].bitmap;
    // Left half black, right half white, fitted to Letter.
    assert!(page.get(700, 1000) && !page.get(1100, 1000));
    assert_eq!(job_count(h.store.as_ref(), s.tenant).await, 3);
}

#[tokio::test]
async fn unsupported_and_broken_documents_get_clear_errors_and_no_job() {
    let h = harness().await;
    let s = sender(&h.app, "broken", "5550003333").await;
    let cases: [(&[u8], StatusCode, &str, &str); 4] = [
        (
            b"GIF89a\x01\x00\x01\x00",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_document",
            "GIF",
        ),
        (
            b"just some text",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_document",
            "PDF, TIFF, PNG, JPEG",
        ),
        (
            b"%PDF-1.4\ngarbage garbage\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_document",
            "PDF is damaged",
        ),
        (
            b"\x89PNG\r\n\x1a\nnot really",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_document",
            "image is damaged",
        ),
    ];
    for (file, status, want, says) in cases {
        let r = send_fax(&h.app, &s.auth, file, &s.number, "2125550100", None).await;
        assert_eq!((r.status, code(&r)), (status, want), "{}", r.text);
        let message = r.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // Missing parts and a body that is not multipart.
    let no_file = multipart(b"", "x", &s.number, "2125550100");
    let no_file = String::from_utf8(no_file)
        .unwrap()
        .replace("name=\"file\"", "name=\"other\"");
    let r = post_multipart(&h.app, &s.auth, no_file.into_bytes(), &[]).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    assert!(r.text.contains("`file`"), "{}", r.text);
    let r = call(
        &h.app,
        Method::POST,
        "/fax/send",
        Some(&s.auth),
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let r = send_fax(&h.app, &s.auth, &jpeg(), &s.number, "not a number", None).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_number")
    );
    assert_eq!(job_count(h.store.as_ref(), s.tenant).await, 0);
    // Without credentials nothing is read at all.
    let r = post_multipart(
        &h.app,
        "Basic bm9ib2R5Om5vcGU=",
        multipart(&jpeg(), "x", &s.number, "2125550100"),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn sender_number_is_checked_before_any_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let (probe, ran) = gs_probe(dir.path());
    let mut settings = FaxSettings::default();
    settings.convert.ghostscript = probe;
    let h = harness_with(ADMIN_KEY, settings).await;
    let a = sender(&h.app, "alpha", "5550004444").await;
    let b = sender(&h.app, "beta", "5550005555").await;
    let doc = pdf(&["hello"]);

    let foreign = send_fax(&h.app, &a.auth, &doc, &b.number, "2125550100", None).await;
    assert_eq!(
        (foreign.status, code(&foreign)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(foreign.json["error"]["message"], "caller number not found");
    // Another tenant's number is indistinguishable from nobody's.
    let nobody = send_fax(&h.app, &a.auth, &doc, "5559999999", "2125550100", None).await;
    assert_eq!(
        (nobody.status, &nobody.json),
        (foreign.status, &foreign.json)
    );
    assert!(
        !ran.exists(),
        "Ghostscript ran for a request that was refused"
    );
    assert_eq!(job_count(h.store.as_ref(), a.tenant).await, 0);
    assert_eq!(job_count(h.store.as_ref(), b.tenant).await, 0);

    // The probe does see a conversion when the number is the tenant's own.
    let own = send_fax(&h.app, &a.auth, &doc, "1-555-000-4444", "2125550100", None).await;
    assert_eq!(own.status, StatusCode::ACCEPTED, "{}", own.text);
    assert!(ran.exists(), "the probe must notice a conversion");
    assert_eq!(job_count(h.store.as_ref(), a.tenant).await, 1);
}

#[tokio::test]
async fn size_and_page_limits_answer_413_and_store_nothing() {
    let mut settings = FaxSettings {
        max_upload_bytes: 300_000,
        ..FaxSettings::default()
    };
    settings.convert.limits.max_pages = 2;
    let h = harness_with(ADMIN_KEY, settings).await;
    let s = sender(&h.app, "limits", "5550006666").await;

    // The ITU chart as PBM is 513 229 bytes: over the body limit.
    let big = std::fs::read(test_support::fax_image("spandsp_itu1.pbm")).unwrap();
    let r = send_fax(&h.app, &s.auth, &big, &s.number, "2125550100", None).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let three_pdf = pdf(&["1", "2", "3"]);
    let three_tiff = charts_tiff(&["spandsp_itu1.pbm", "spandsp_itu2.pbm", "spandsp_itu3.pbm"]);
    assert!(three_tiff.len() < 300_000, "{} bytes", three_tiff.len());
    for (what, file) in [("pdf", &three_pdf), ("tiff", &three_tiff)] {
        let r = send_fax(&h.app, &s.auth, file, &s.number, "2125550100", None).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_many_pages"),
            "{what}: {}",
            r.text
        );
        assert!(r.text.contains("limit of 2"), "{what}: {}", r.text);
    }
    assert_eq!(job_count(h.store.as_ref(), s.tenant).await, 0);
    // Two pages are within the limit.
    let r = send_fax(
        &h.app,
        &s.auth,
        &pdf(&["1", "2"]),
        &s.number,
        "2125550100",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_job_for_24_hours() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (probe, converted) = gs_probe(dir.path());
    let mut settings = FaxSettings {
        clock: clock.clock(),
        ..FaxSettings::default()
    };
    settings.convert.ghostscript = probe;
    let h = harness_with(ADMIN_KEY, settings).await;
    let a = sender(&h.app, "idem-a", "5550007777").await;
    let b = sender(&h.app, "idem-b", "5550008888").await;
    let doc = pdf(&["order 42"]);

    let first = send_fax(
        &h.app,
        &a.auth,
        &doc,
        &a.number,
        "2125550100",
        Some("order-42"),
    )
    .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let id = first.json["job_uuid"].as_str().unwrap().to_owned();
    assert!(converted.exists());
    std::fs::remove_file(&converted).unwrap();

    // The same request again (callee spelt differently, same number): the first job.
    clock.advance(TimeDelta::hours(23));
    let again = send_fax(
        &h.app,
        &a.auth,
        &doc,
        &a.number,
        "+1 212 555 0100",
        Some("order-42"),
    )
    .await;
    assert_eq!(
        (again.status, &again.json),
        (StatusCode::ACCEPTED, &first.json)
    );
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(job_count(h.store.as_ref(), a.tenant).await, 1);

    // The same key with another document or another callee: refused, nothing stored.
    let other_doc = chart_png("spandsp_itu2.pbm");
    for (file, callee) in [(&other_doc, "2125550100"), (&doc, "2125550199")] {
        let r = send_fax(&h.app, &a.auth, file, &a.number, callee, Some("order-42")).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
        );
    }
    assert_eq!(job_count(h.store.as_ref(), a.tenant).await, 1);
    // Both answered from the store, without converting anything.
    assert!(!converted.exists(), "a repeated key must not convert again");

    // Keys are per tenant.
    let theirs = send_fax(
        &h.app,
        &b.auth,
        &doc,
        &b.number,
        "2125550100",
        Some("order-42"),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::ACCEPTED);
    assert_ne!(theirs.json["job_uuid"], first.json["job_uuid"]);

    // A day after the first use the key is free again: a new job.
    clock.advance(TimeDelta::hours(1) + TimeDelta::seconds(1));
    let later = send_fax(
        &h.app,
        &a.auth,
        &doc,
        &a.number,
        "2125550100",
        Some("order-42"),
    )
    .await;
    assert_eq!(later.status, StatusCode::ACCEPTED);
    assert!(later.headers.get("idempotent-replayed").is_none());
    assert_ne!(later.json["job_uuid"].as_str(), Some(id.as_str()));
    assert_eq!(job_count(h.store.as_ref(), a.tenant).await, 2);
    let newest = job_row(
        h.store.as_ref(),
        a.tenant,
        later.json["job_uuid"].as_str().unwrap(),
    )
    .await;
    assert_eq!(newest.created_at, clock.now());

    let long = "k".repeat(256);
    for bad in ["", long.as_str(), "caf\u{e9}"] {
        let body = multipart(&doc, "x", &a.number, "2125550100");
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/fax/send")
            .header(header::AUTHORIZATION, &a.auth)
            .header(
                header::CONTENT_TYPE,
                "multipart/form-data; boundary=faxserver-test-boundary-7d9f3a61c0",
            )
            .header(
                "idempotency-key",
                axum::http::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .body(axum::body::Body::from(body))
            .unwrap();
        let r = send(&h.app, req).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{bad:?}"
        );
    }
    assert_eq!(job_count(h.store.as_ref(), a.tenant).await, 2);
}

//! Fax helpers: real documents (Ghostscript PDFs, the ITU charts as PNG, JPEG, fax TIFFs),
//! a hand-written multipart body as gofaxserver's clients send it, raw-byte requests, and a
//! manual clock.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use api::Clock;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use engine::documents::{images_to_fax_tiff, Bitmap, ConvertOptions};
use http_body_util::BodyExt;
use serde_json::json;
use store::{JobId, Store, TenantId};
use tower::ServiceExt;
use uuid::Uuid;

use super::{admin, basic, call, create_tenant, create_user, send, Resp};

/// Separates multipart parts; it occurs in none of the test documents.
const BOUNDARY: &str = "faxserver-test-boundary-7d9f3a61c0";

/// A tenant with one number and one user.
pub struct Sender {
    /// Tenant id.
    pub tenant: i64,
    /// The number as stored (E.164).
    pub number: String,
    /// `Authorization` of the user.
    pub auth: String,
}

/// Creates a tenant `name` owning `number` with user `<name>-user`.
pub async fn sender(app: &Router, name: &str, number: &str) -> Sender {
    let tenant = create_tenant(app, name).await;
    let r = call(
        app,
        Method::POST,
        "/admin/number",
        Some(&admin()),
        Some(json!({ "tenant_id": tenant, "number": number })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let user = format!("{name}-user");
    create_user(app, tenant, &user, "pw").await;
    // The toll-fraud guard blocks international destinations by default; these tests send
    // to +44 numbers, so the tenant is allowed them (premium ranges stay blocked).
    let allowed = call(
        app,
        Method::PUT,
        &format!("/admin/tenant/{tenant}/dialing"),
        Some(&admin()),
        Some(json!({ "allowed_prefixes": ["+"] })),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    Sender {
        tenant,
        number: r.json["number"].as_str().expect("number").to_owned(),
        auth: basic(&user, "pw"),
    }
}

/// A `multipart/form-data` body with gofaxserver's fields, the file part first.
pub fn multipart(file: &[u8], filename: &str, caller: &str, callee: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    for (name, value) in [("caller_number", caller), ("callee_number", callee)] {
        body.extend_from_slice(
            format!(
                "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `POST /fax/send` with a prepared multipart body and optional extra headers.
pub async fn post_multipart(
    app: &Router,
    auth: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/fax/send")
        .header(header::AUTHORIZATION, auth)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::from(body)).expect("request")).await
}

/// `POST /fax/send` of `file` from `caller` to `callee`.
pub async fn send_fax(
    app: &Router,
    auth: &str,
    file: &[u8],
    caller: &str,
    callee: &str,
    key: Option<&str>,
) -> Resp {
    let body = multipart(file, "upload.bin", caller, callee);
    match key {
        Some(k) => post_multipart(app, auth, body, &[("idempotency-key", k)]).await,
        None => post_multipart(app, auth, body, &[]).await,
    }
}

/// Sends and expects 202; returns the job id.
pub async fn queued(app: &Router, s: &Sender, file: &[u8]) -> String {
    let r = send_fax(app, &s.auth, file, &s.number, "+442071234567", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    r.json["job_uuid"].as_str().expect("job_uuid").to_owned()
}

/// A response whose body is kept as bytes (documents).
pub struct RawResp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// `GET uri` with extra headers, body as bytes.
pub async fn get_raw(app: &Router, uri: &str, auth: &str, headers: &[(&str, &str)]) -> RawResp {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::AUTHORIZATION, auth);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    RawResp {
        status,
        headers,
        body: body.to_vec(),
    }
}

/// Runs a command and returns its stdout, failing the test if it fails.
pub fn run(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A PDF with one Letter page per label (frame, text, grey box), made by Ghostscript.
pub fn pdf(labels: &[&str]) -> Vec<u8> {
    let ps: String = labels
        .iter()
        .map(|label| {
            format!(
                "<< /PageSize [612 792] >> setpagedevice\n\
                 0 setgray 4 setlinewidth 18 18 576 756 rectstroke\n\
                 /Helvetica findfont 36 scalefont setfont 72 684 moveto ({label}) show\n\
                 0.5 setgray 72 72 216 216 rectfill\nshowpage\n"
            )
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let (ps_path, pdf_path) = (dir.path().join("in.ps"), dir.path().join("out.pdf"));
    std::fs::write(&ps_path, ps).expect("write ps");
    let out = format!("-sOutputFile={}", pdf_path.display());
    run(
        "gs",
        &[
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=pdfwrite",
            &out,
            ps_path.to_str().expect("path"),
        ],
    );
    std::fs::read(pdf_path).expect("read pdf")
}

/// An ITU chart from `shared/testdata/fax-images` (1728 pixels wide) as grey PNG bytes.
pub fn chart_png(name: &str) -> Vec<u8> {
    let pbm = std::fs::read(test_support::fax_image(name)).expect("chart");
    let img = image::load_from_memory(&pbm)
        .expect("decode PBM")
        .to_luma8();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

/// The chart's pixels, black = true, decoded by the `image` crate.
pub fn chart_bitmap(name: &str) -> (u32, u32, Vec<bool>) {
    let pbm = std::fs::read(test_support::fax_image(name)).expect("chart");
    let img = image::load_from_memory(&pbm)
        .expect("decode PBM")
        .to_luma8();
    let (w, h) = img.dimensions();
    (w, h, img.pixels().map(|p| p.0[0] < 128).collect())
}

/// A small JPEG: left half black, right half white.
pub fn jpeg() -> Vec<u8> {
    let img = image::GrayImage::from_fn(300, 400, |x, _| {
        image::Luma([if x < 150 { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode JPEG");
    out.into_inner()
}

/// A fax TIFF-F with the given ITU charts, one page each.
pub fn charts_tiff(names: &[&str]) -> Vec<u8> {
    let images: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(test_support::fax_image(n)).expect("chart"))
        .collect();
    let inputs: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
    images_to_fax_tiff(&inputs, &ConvertOptions::default())
        .expect("charts to TIFF")
        .tiff
}

/// Page `n` (from 1) of a PDF rendered by Ghostscript at the given resolution, 1 bit deep.
pub fn render_pdf_page(pdf: &[u8], n: usize, x_dpi: f32, y_dpi: f32) -> (u32, u32, Vec<bool>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, out_path) = (dir.path().join("in.pdf"), dir.path().join("p.pbm"));
    std::fs::write(&path, pdf).expect("write pdf");
    let out = format!("-sOutputFile={}", out_path.display());
    let res = format!("-r{x_dpi}x{y_dpi}");
    let (first, last) = (format!("-dFirstPage={n}"), format!("-dLastPage={n}"));
    run(
        "gs",
        &[
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=pbmraw",
            &res,
            &first,
            &last,
            &out,
            path.to_str().expect("path"),
        ],
    );
    let img = image::load_from_memory(&std::fs::read(out_path).expect("pbm"))
        .expect("decode PBM")
        .to_luma8();
    let (w, h) = img.dimensions();
    (w, h, img.pixels().map(|p| p.0[0] < 128).collect())
}

/// A bitmap as (width, height, black pixels row by row).
pub fn pixels(b: &Bitmap) -> (u32, u32, Vec<bool>) {
    let mut v = Vec::with_capacity((b.width * b.height) as usize);
    for y in 0..b.height {
        for x in 0..b.width {
            v.push(b.get(x, y));
        }
    }
    (b.width, b.height, v)
}

/// Page count per `pdfinfo`.
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let info = String::from_utf8(run("pdfinfo", &[path.to_str().expect("path")])).expect("utf8");
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Pages: line")
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// Starts at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// The clock to put into the settings.
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Clock::new(move || *me.0.lock().expect("clock"))
    }

    /// Moves forward.
    pub fn advance(&self, by: TimeDelta) {
        *self.0.lock().expect("clock") += by;
    }

    /// The current reading.
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

/// A Ghostscript wrapper that leaves `marker` behind when run, so a test can tell whether
/// a conversion started.
pub fn gs_probe(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let marker = dir.join("gs-ran");
    let script = dir.join("gs-probe");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\nexec gs \"$@\"\n", marker.display()),
    )
    .expect("write probe");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (script, marker)
}

/// The job row behind an API job id.
pub async fn job_row(store: &dyn Store, tenant: i64, id: &str) -> store::Job {
    store
        .get_job(TenantId(tenant), JobId(Uuid::parse_str(id).expect("uuid")))
        .await
        .expect("get_job")
        .expect("job row exists")
}

/// The stored document of a job.
pub async fn document_of(store: &dyn Store, tenant: i64, id: &str) -> store::Document {
    let job = job_row(store, tenant, id).await;
    let doc = job.document_id.expect("document attached");
    store
        .get_document(TenantId(tenant), doc)
        .await
        .expect("get_document")
        .expect("document row exists")
}

/// How many jobs a tenant has.
pub async fn job_count(store: &dyn Store, tenant: i64) -> usize {
    store.list_jobs(TenantId(tenant), 1000).await.unwrap().len()
}

/// Hex SHA-256, computed here independently of the store.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

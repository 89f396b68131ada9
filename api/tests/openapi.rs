//! `/openapi.json` against the router it describes, and Swagger UI rendering it.
//!
//! axum cannot list a router's routes, so the route list is read from the source that builds
//! the router (every `.route(...)` in api/src, under the prefix its module is nested at): a
//! route added there and not documented fails `document_and_router_agree`. Every documented
//! operation is then called on the real router, which must have it (no 404 fallback, no 405)
//! and must ask for exactly the credentials the document says.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{header, Method, StatusCode};
use common::{admin, call, code, create_tenant, create_user, harness, keys};
use serde_json::{json, Value};

/// Asset routes of Swagger UI: served, but not API operations.
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("GET", "/docs/swagger-ui-bundle.js"),
    ("GET", "/docs/swagger-ui.css"),
];

/// The prefix each source file's routes are nested under (see `api::router`).
fn prefix_of(file: &Path) -> &'static str {
    let s = file.to_string_lossy();
    if s.contains("/src/admin/") {
        "/admin"
    } else if s.contains("/src/fax/") {
        "/fax"
    } else if s.ends_with("/src/tenant.rs") {
        "/tenant"
    } else {
        ""
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text of the call whose `(` is at `open`, up to its matching `)`.
fn call_text(src: &str, open: usize) -> &str {
    let (mut depth, mut in_str) = (0i32, false);
    for (i, c) in src[open..].char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return &src[open..open + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced .route( call");
}

/// (METHOD, full path) of every route the router source registers.
fn source_routes() -> BTreeSet<(String, String)> {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src_dir.join("lib.rs")).unwrap();
    let nests: Vec<&str> = lib
        .match_indices(".nest(")
        .map(|(i, _)| &lib[i..i + 20])
        .collect();
    assert_eq!(
        nests.len(),
        3,
        "a new .nest() in lib.rs needs a prefix in prefix_of: {nests:?}"
    );
    for p in ["/admin\"", "/tenant\"", "/fax\""] {
        assert!(lib.contains(&format!(".nest(\"{p}")), "{p}");
    }
    let mut files = Vec::new();
    rust_files(&src_dir, &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        // Unit tests build their own routers.
        let src = src.split("#[cfg(test)]").next().unwrap();
        for (i, _) in src.match_indices(".route(") {
            let text = call_text(src, i + ".route".len());
            let path = text.split('"').nth(1).expect("path literal");
            let full = match (prefix_of(&f), path) {
                (p, "/") if !p.is_empty() => p.to_owned(),
                (p, path) => format!("{p}{path}"),
            };
            let mut found = false;
            for m in ["get", "post", "put", "delete", "patch"] {
                let bare = format!("{m}(");
                let hits = text.match_indices(&bare).filter(|(j, _)| {
                    let before = text[..*j].chars().last().unwrap_or(' ');
                    !(before.is_alphanumeric() || before == '_' || before == ':')
                });
                if hits.count() > 0 {
                    out.insert((m.to_uppercase(), full.clone()));
                    found = true;
                }
            }
            assert!(found, "no method in {text} ({})", f.display());
        }
    }
    out
}

fn document_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn document_and_router_agree() {
    let h = harness().await;
    let r = call(&h.app, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json;
    assert_eq!(doc["openapi"], "3.1.0");

    let mut in_source = source_routes();
    for (m, p) in UNDOCUMENTED {
        assert!(
            in_source.remove(&((*m).to_owned(), (*p).to_owned())),
            "{m} {p}"
        );
    }
    let in_doc = document_routes(&doc);
    let missing: Vec<_> = in_source.difference(&in_doc).collect();
    let extra: Vec<_> = in_doc.difference(&in_source).collect();
    assert!(
        missing.is_empty(),
        "routes missing from /openapi.json: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    assert!(in_doc.len() >= 55, "{}", in_doc.len());
}

#[tokio::test]
async fn every_documented_operation_exists_with_the_documented_auth() {
    let h = harness().await;
    let doc = call(&h.app, Method::GET, "/openapi.json", None, None)
        .await
        .json;
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let uri = path
                .replace("{uuid}", "0b6c1c3e-8f2a-4d6e-9a55-3f1e2d4c5b6a")
                .replace("{id}", "999999");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = matches!(m, Method::POST | Method::PUT).then(|| json!({}));
            let r = call(&h.app, m.clone(), &uri, None, body).await;
            let what = format!("{method} {path}: {} {}", r.status, r.text);
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
            assert!(
                !(code(&r) == "not_found" && r.text.contains("route not found")),
                "not routed: {what}"
            );
            let security = op["security"].as_array().expect("security");
            for s in security {
                for name in s.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{name}");
                }
            }
            let needs_auth = !security.is_empty();
            assert_eq!(r.status == StatusCode::UNAUTHORIZED, needs_auth, "{what}");
            assert!(
                op["responses"].as_object().is_some_and(|x| !x.is_empty()),
                "{what}"
            );
        }
    }
    // /fax/send documents its multipart form.
    let send = &doc["paths"]["/fax/send"]["post"];
    let form = &send["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"];
    assert_eq!(form, "#/components/schemas/FaxUpload");
    assert!(send["responses"]["403"].is_object() && send["responses"]["202"].is_object());
}

/// Every `$ref` points at a component that exists.
#[tokio::test]
async fn references_resolve_and_views_match_their_schemas() {
    let h = harness().await;
    let doc = call(&h.app, Method::GET, "/openapi.json", None, None)
        .await
        .json;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for (i, _) in text.match_indices("#/components/schemas/") {
        let name: String = text[i + 21..].chars().take_while(|c| *c != '"').collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
    assert_eq!(keys(&schemas["Error"]["properties"]), ["error"]);

    // Real answers carry exactly the documented properties.
    let t = create_tenant(&h.app, "T").await;
    let u = create_user(&h.app, t, "u", "pw").await;
    for (uri, schema) in [
        (format!("/admin/tenant/{t}"), "Tenant"),
        (format!("/admin/user/{u}"), "User"),
        (format!("/admin/tenant/{t}/dialing"), "Dialing"),
    ] {
        let r = call(&h.app, Method::GET, &uri, Some(&admin()), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            keys(&r.json),
            keys(&schemas[schema]["properties"]),
            "{schema}"
        );
    }
    let r = call(&h.app, Method::GET, "/nope", None, None).await;
    assert_eq!(
        keys(&r.json["error"]),
        keys(&schemas["Error"]["properties"]["error"]["properties"])
    );
}

/// The vendored assets are served byte for byte.
#[tokio::test]
async fn swagger_ui_assets_are_served_from_the_vendored_files() {
    let h = harness().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/swagger-ui");
    for (uri, file, ct) in [
        ("/docs", "index.html", "text/html"),
        (
            "/docs/swagger-ui-bundle.js",
            "swagger-ui-bundle.js",
            "text/javascript",
        ),
        ("/docs/swagger-ui.css", "swagger-ui.css", "text/css"),
    ] {
        let r = call(&h.app, Method::GET, uri, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let ct_got = r.headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(ct_got.starts_with(ct), "{uri}: {ct_got}");
        assert_eq!(
            r.text.as_bytes(),
            std::fs::read(dir.join(file)).unwrap(),
            "{uri}"
        );
    }
    assert!(dir.join("LICENSE").exists() && dir.join("NOTICE").exists());
}

/// Headless Chromium loads /docs over real HTTP and Swagger UI renders the operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_renders_the_operations_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!("SKIPPED swagger_ui_renders_the_operations_in_chromium: chromium is not installed (scripts/install-deps.sh installs it)");
        return;
    };
    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = h.app.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/docs");
    let user_dir = format!("--user-data-dir={}", profile.path().display());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args([
                "120",
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(user_dir)
            .args(["--virtual-time-budget=30000", "--dump-dom", &url])
            .output()
            .expect("run chromium")
    })
    .await
    .unwrap();
    server.abort();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Rendered by Swagger UI, not just our HTML: the title, operation blocks and paths.
    assert!(dom.contains("faxserver REST API"), "{dom:.2000}");
    assert!(dom.contains("opblock"), "{dom:.2000}");
    for path in [
        "/fax/send",
        "/admin/tenant/{id}/dialing",
        "/tenant/number/{id}",
    ] {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{path} not rendered"
        );
    }
}

//! `faxserver import`, driven as an operator would: the real binary against a fresh SQLite
//! data directory. FreeSWITCH gateway XML from `tests/data/`; gofaxserver's tables in a
//! throwaway PostgreSQL database (`FAXSERVER_TEST_DATABASE_URL`, a superuser connection;
//! SKIPPED when unset) whose passwords are encrypted as gofaxserver did (AES-256-CFB with
//! the psk, random IV, base64).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use base64::Engine;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use store::{EndpointKind, Scope, SqliteStore, Store, Transport, E164};

fn import(data_dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_faxserver"))
        .arg("import")
        .args(args)
        .env("FAXSERVER_DATA_DIR", data_dir)
        .env_remove("FAXSERVER_DATABASE_URL")
        .env_remove("FAXSERVER_CONFIG")
        .output()
        .expect("run faxserver import");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn gateways_xml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/freeswitch-external.xml")
}

async fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("faxserver.db"))
        .await
        .expect("open the store the import wrote")
}

#[tokio::test]
async fn freeswitch_gateways() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = gateways_xml();
    let xml_arg = xml.to_str().expect("utf-8 path");
    let first = import(dir.path(), &["freeswitch-gateways", xml_arg]);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(
        out.contains(&format!("{xml_arg}: gateway flowroute: created")),
        "{out}"
    );
    for unmapped in [
        "gateway flowroute: not mapped: expire-seconds = \"600\"",
        "gateway flowroute: not mapped: from-user = \"12345678\"",
        "gateway flowroute: not mapped: from-domain = \"sip.flowroute.com\"",
        "gateway pbx-tcp: not mapped: caller-id-in-from = \"true\"",
    ] {
        assert!(out.contains(&format!("{xml_arg}: {unmapped}")), "{out}");
    }

    let store = open(dir.path()).await;
    let gateways = store.list_gateways().await.expect("list");
    assert_eq!(gateways.len(), 2);
    let fr = &gateways[0];
    assert_eq!(fr.name, "flowroute");
    assert_eq!(fr.uri, "sip:203.0.113.10:5060");
    assert_eq!(fr.transport, Transport::Udp);
    assert_eq!(fr.username.as_deref(), Some("12345678"));
    assert_eq!(fr.password.as_deref(), Some("s3cr&t"));
    assert!(fr.register);
    assert_eq!(fr.allowed_sources, ["203.0.113.10"]);
    assert_eq!(fr.tenant_id, None);
    let pbx = &gateways[1];
    assert_eq!(pbx.name, "pbx-tcp");
    assert_eq!(pbx.uri, "sip:pbx.example.net:5080");
    assert_eq!(pbx.transport, Transport::Tcp);
    assert_eq!(pbx.username, None);
    assert!(!pbx.register);

    let second = import(dir.path(), &["freeswitch-gateways", xml_arg]);
    assert!(second.status.success(), "{}", stderr(&second));
    let out = stdout(&second);
    assert!(out.contains("gateway flowroute: unchanged"), "{out}");
    assert!(out.contains("gateway pbx-tcp: unchanged"), "{out}");
    assert_eq!(store.list_gateways().await.expect("list"), gateways);

    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        "<include>\n  <gateway name=\"half\">\n    <param name=\"proxy\" value=\"x\">\n</include>\n",
    )
    .expect("write");
    let bad = import(
        dir.path(),
        &["freeswitch-gateways", broken.to_str().expect("utf-8")],
    );
    assert!(!bad.status.success());
    let err = stderr(&bad);
    assert!(
        err.contains(&format!("{}: not well-formed XML:", broken.display())),
        "{err}"
    );
    let missing = import(dir.path(), &["freeswitch-gateways", "/nonexistent/gw.xml"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent/gw.xml: cannot read"));
    assert_eq!(store.list_gateways().await.expect("list"), gateways);
}

/// gofaxserver's tables as GORM's AutoMigrate creates them (behaviour doc §2.1).
const GOFAX_SCHEMA: &str = include_str!("data/gofaxserver-schema.sql");

const PSK: &str = "gofax-shared-secret";

/// gofaxserver's `encrypt`: key = psk zero-padded to 32 bytes, AES-256-CFB, random IV,
/// base64(IV‖ciphertext).
fn gofax_encrypt(psk: &str, plain: &str) -> String {
    let mut key = [0u8; 32];
    let n = psk.len().min(32);
    key[..n].copy_from_slice(&psk.as_bytes()[..n]);
    let mut iv = [0u8; 16];
    getrandom(&mut iv);
    let mut buf = plain.as_bytes().to_vec();
    cfb_mode::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into()).encrypt(&mut buf);
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn getrandom(buf: &mut [u8]) {
    use rand_core::{OsRng, RngCore};
    OsRng.fill_bytes(buf);
}

/// A database created for one test and dropped when it ends, even on failure.
struct Throwaway {
    admin: PgConnectOptions,
    name: String,
}

impl Throwaway {
    async fn create(admin: &PgConnectOptions) -> Throwaway {
        let name = format!("gofax_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(admin).await.expect("connect");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        conn.close().await.ok();
        Throwaway {
            admin: admin.clone(),
            name,
        }
    }

    /// The URL of the database, for `--database-url`.
    fn url(&self, admin_url: &str) -> String {
        let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
        format!("{base}/{}", self.name)
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime: a thread of its own may block on another.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = admin.connect().await {
                    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// The pieces of a `postgres://user:password@host:port/db` URL, for config.json.
fn url_parts(url: &str) -> (String, String, String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (auth, hostpart) = rest.rsplit_once('@').unwrap_or(("", rest));
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let hostport = hostpart.split(['/', '?']).next().unwrap_or_default();
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    (
        user.to_owned(),
        password.to_owned(),
        host.to_owned(),
        port.parse().expect("port"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gofaxserver_import() {
    let Ok(url) = std::env::var("FAXSERVER_TEST_DATABASE_URL") else {
        eprintln!("SKIPPED gofaxserver_import: FAXSERVER_TEST_DATABASE_URL is not set");
        return;
    };
    let admin = PgConnectOptions::from_str(&url).expect("FAXSERVER_TEST_DATABASE_URL");
    let db = Throwaway::create(&admin).await;
    let name = db.name.clone();
    let mut gofax = PgConnection::connect_with(&admin.clone().database(&name))
        .await
        .expect("connect gofaxserver's database");
    sqlx::raw_sql(GOFAX_SCHEMA)
        .execute(&mut gofax)
        .await
        .expect("schema");
    let rows = format!(
        r#"
INSERT INTO tenants (id, name, notify) VALUES
  (1, 'Acme Corp', 'email_report->fax@acme.example'), (2, 'Beta LLC', '');
INSERT INTO tenant_numbers (id, tenant_id, number, name, header, notify) VALUES
  (10, 1, '6045550100', 'Acme Fax', 'ACME CORP', ''),
  (11, 2, '2505550199', NULL, NULL, NULL),
  (12, 1, '12345', 'bad', '', '');
INSERT INTO endpoints (id, type, type_id, endpoint_type, endpoint, priority, bridge) VALUES
  (20, 'global', 0, 'gateway', 'flowroute:203.0.113.10', 0, false),
  (21, 'tenant', 1, 'webhook', 'https://hooks.acme.example/fax', 1, false),
  (22, 'number', 10, 'gateway', 'acme-pbx:198.51.100.7', 666, true),
  (23, 'number', 11, 'gateway', 'flowroute:203.0.113.10', 999, false),
  (24, 'tenant', 2, 'sms', '+15550000000', 5, false),
  (25, 'number', 12, 'webhook', 'https://hooks.acme.example/bad', 1, false);
INSERT INTO tenant_users (id, tenant_id, username, password, api_key) VALUES
  (30, 1, 'alice', '{alice}', 'ak-123'),
  (31, 2, 'bob', '{bob}', ''),
  (32, 1, 'mallory', '{mallory}', '');
"#,
        alice = gofax_encrypt(PSK, "Wonder land 42!"),
        bob = gofax_encrypt(PSK, "hunter2"),
        // Long enough that garbage from the wrong key is never mistaken for text.
        mallory = gofax_encrypt("a-different-psk", "a password long enough to tell"),
    );
    sqlx::raw_sql(&rows)
        .execute(&mut gofax)
        .await
        .expect("rows");
    gofax.close().await.ok();

    let dir = tempfile::tempdir().expect("tempdir");
    let (user, password, host, port) = url_parts(&url);
    let config = serde_json::json!({
        "freeswitch": {
            "event_client_socket": "127.0.0.1:8021",
            "event_client_socket_password": "ClueCon",
            "ident": "ACME FAX",
            "softmodem_fallback": true
        },
        "faxing": {"enable_t38": true, "retry_attempts": "3", "wait_time": 500},
        "database": {
            "host": host, "port": port.to_string(), "user": user,
            "password": password, "database": name
        },
        "web": {"listen": "127.0.0.1:8080", "api_key": "admin-secret"},
        "psk": PSK
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).expect("write config.json");
    let data = dir.path().join("data");
    // Gateways first, as an operator would: the global endpoint names one of them.
    let gw = import(
        &data,
        &[
            "freeswitch-gateways",
            gateways_xml().to_str().expect("utf-8"),
        ],
    );
    assert!(gw.status.success(), "{}", stderr(&gw));
    let args = [
        "gofaxserver",
        "--config",
        config_path.to_str().expect("utf-8"),
    ];
    let first = import(&data, &args);
    let out = stdout(&first);
    assert!(first.status.success(), "{out}\n{}", stderr(&first));
    for expected in [
        "read 2 tenant(s), 3 number(s), 6 endpoint(s), 3 user(s) from gofaxserver",
        "freeswitch.ident",
        "ignored: freeswitch.event_client_socket:",
        "ignored: faxing.wait_time:",
        "not imported: number 12 \"12345\": skipped: invalid number",
        "not imported: endpoint 24 (tenant sms \"+15550000000\"): skipped: unknown endpoint type \"sms\"",
        "not imported: endpoint 25 (number webhook \"https://hooks.acme.example/bad\"): skipped: number 12 was not imported",
        "note: endpoint 22 (number gateway \"acme-pbx:198.51.100.7\"): no faxserver gateway is named \"acme-pbx\"",
        "not imported: user 32 \"mallory\": skipped (not created): password cannot be decrypted",
        "not imported: 1 user api_key value(s) not imported",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        !out.contains("no faxserver gateway is named \"flowroute\""),
        "{out}"
    );

    let store = open(&data).await;
    check_store(&store).await;
    let before = snapshot(&store).await;

    let second = import(&data, &args);
    let out = stdout(&second);
    assert!(second.status.success(), "{out}");
    assert!(!out.contains(": created"), "{out}");
    assert!(!out.contains(": updated"), "{out}");
    assert!(out.contains("user 30 \"alice\" -> user"), "{out}");
    assert_eq!(snapshot(&store).await, before);
    check_store(&store).await;

    // An empty database instead of gofaxserver's: a clear error, nothing written.
    let blank = Throwaway::create(&admin).await;
    let blank_url = blank.url(&url);
    let empty = import(
        &data,
        &[&args[..], &["--database-url", &blank_url]].concat(),
    );
    assert!(!empty.status.success());
    assert!(
        stderr(&empty).contains("reading gofaxserver's tenants:"),
        "{}",
        stderr(&empty)
    );
    assert_eq!(snapshot(&store).await, before);
}

/// Everything the import writes, to compare two runs.
async fn snapshot(store: &SqliteStore) -> String {
    let mut out = format!("{:?}\n", store.list_endpoints(None).await.expect("global"));
    for t in store.list_tenants().await.expect("tenants") {
        out += &format!(
            "{t:?}\n{:?}\n{:?}\n{:?}\n",
            store.list_numbers(t.id).await.expect("numbers"),
            store.list_endpoints(Some(t.id)).await.expect("endpoints"),
            store.list_users(t.id).await.expect("users"),
        );
    }
    out
}

async fn check_store(store: &SqliteStore) {
    let tenants = store.list_tenants().await.expect("tenants");
    let names: Vec<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Acme Corp", "Beta LLC"]);
    let (acme, beta) = (&tenants[0], &tenants[1]);
    assert_eq!(acme.notify, "email_report->fax@acme.example");

    let n1 = store
        .find_number(&E164::parse("+16045550100").expect("e164"))
        .await
        .expect("find")
        .expect("Acme's number, in E.164");
    assert_eq!(
        (n1.tenant_id, n1.name.as_str(), n1.header.as_str()),
        (acme.id, "Acme Fax", "ACME CORP")
    );
    let n2 = store
        .find_number(&E164::parse("+12505550199").expect("e164"))
        .await
        .expect("find")
        .expect("Beta's number");
    assert_eq!(n2.tenant_id, beta.id);
    assert_eq!(store.list_numbers(acme.id).await.expect("numbers").len(), 1);

    let global = store.list_endpoints(None).await.expect("global");
    assert_eq!(global.len(), 1);
    assert_eq!(
        (
            global[0].scope,
            global[0].endpoint_type,
            global[0].target.as_str()
        ),
        (
            Scope::Global,
            EndpointKind::Gateway,
            "flowroute:203.0.113.10"
        )
    );
    let acme_eps = store.list_endpoints(Some(acme.id)).await.expect("acme");
    let summary: Vec<_> = acme_eps
        .iter()
        .map(|e| {
            (
                e.scope,
                e.scope_id,
                e.endpoint_type,
                e.target.as_str(),
                e.priority,
                e.bridge,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Scope::Tenant,
                acme.id.0,
                EndpointKind::Webhook,
                "https://hooks.acme.example/fax",
                1,
                false
            ),
            (
                Scope::Number,
                n1.id.0,
                EndpointKind::Gateway,
                "acme-pbx:198.51.100.7",
                666,
                true
            ),
        ]
    );
    let beta_eps = store.list_endpoints(Some(beta.id)).await.expect("beta");
    assert_eq!(beta_eps.len(), 1);
    assert_eq!((beta_eps[0].scope_id, beta_eps[0].priority), (n2.id.0, 999));

    let alice = store
        .verify_user_password("alice", "Wonder land 42!")
        .await
        .expect("verify")
        .expect("alice signs in with her gofaxserver password");
    assert_eq!(alice.tenant_id, acme.id);
    let bob = store
        .verify_user_password("bob", "hunter2")
        .await
        .expect("verify")
        .expect("bob signs in with his gofaxserver password");
    assert_eq!(bob.tenant_id, beta.id);
    assert!(store
        .verify_user_password("alice", "wrong")
        .await
        .expect("verify")
        .is_none());
    let acme_users: Vec<String> = store
        .list_users(acme.id)
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(
        acme_users,
        ["alice"],
        "mallory's password was undecryptable: skipped"
    );
}

//! Bad documents and bad settings are refused before any call starts, with a clear error.

use std::path::Path;

use spandsp::{
    check_send_tiff, inspect_send_tiff, CompletionCode, Direction, Error, FaxTerminal,
    GatewayConfig, Modems, Role, T30Config, T38Config, T38Gateway, T38Terminal, TiffCheck,
};
use test_support::{fax_image, write_bilevel_tiff, TiffSpec};

fn sender(path: &Path) -> Result<FaxTerminal, Error> {
    FaxTerminal::new(
        Role::Calling,
        Direction::Send {
            tiff: path.to_owned(),
            first_page: 1,
        },
        &T30Config::default(),
    )
}

fn reason(err: Error) -> String {
    match err {
        Error::BadTiff { reason, .. } => reason,
        other => panic!("expected BadTiff, got {other:?}"),
    }
}

fn fax_spec() -> TiffSpec {
    TiffSpec {
        width: 1728,
        height: 200,
        x_dpi: 204,
        y_dpi: 196,
        pages: 2,
    }
}

#[test]
fn a_fax_tiff_is_accepted_with_its_page_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.tif");
    std::fs::write(&path, write_bilevel_tiff(&fax_spec())).unwrap();
    let summary = check_send_tiff(&path).unwrap();
    assert_eq!(summary.pages, 2);
    assert_eq!(summary.y_dpi, vec![196.0, 196.0]);
    assert!(sender(&path).is_ok());

    let summary = check_send_tiff(&fax_image("asterisk-testsuite_send.tiff")).unwrap();
    assert_eq!(summary.pages, 1);
}

#[test]
fn a_missing_tiff_is_refused_before_the_call() {
    let err = sender(Path::new("/nonexistent/fax.tif")).unwrap_err();
    assert!(reason(err).contains("No such file"), "names the OS error");
}

#[test]
fn an_unreadable_tiff_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.tif");
    std::fs::write(&path, b"%PDF-1.4 this is not a TIFF at all").unwrap();
    assert_eq!(
        reason(sender(&path).unwrap_err()),
        "not a readable TIFF file"
    );

    // A real fax TIFF cut short: the image data is missing.
    let mut bytes = write_bilevel_tiff(&fax_spec());
    bytes.truncate(5000);
    std::fs::write(&path, bytes).unwrap();
    let why = reason(sender(&path).unwrap_err());
    assert!(
        why.contains("not a readable TIFF") || why.contains("corrupt"),
        "{why}"
    );
}

#[test]
fn a_wrong_width_tiff_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a4-150dpi.tif");
    let spec = TiffSpec {
        width: 1240,
        height: 300,
        x_dpi: 150,
        y_dpi: 150,
        pages: 1,
    };
    std::fs::write(&path, write_bilevel_tiff(&spec)).unwrap();
    assert_eq!(
        reason(sender(&path).unwrap_err()),
        "page 1 is 1240 pixels wide; fax pages are 1728"
    );
}

#[test]
fn a_wrong_resolution_tiff_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("300dpi.tif");
    let spec = TiffSpec {
        width: 1728,
        height: 300,
        x_dpi: 204,
        y_dpi: 300,
        pages: 1,
    };
    std::fs::write(&path, write_bilevel_tiff(&spec)).unwrap();
    assert_eq!(
        reason(sender(&path).unwrap_err()),
        "page 1 has 300 lines per inch; fax pages have 98, 196 or 391"
    );
}

#[test]
fn paths_spandsp_would_truncate_are_refused() {
    let long = format!("/tmp/{}.tif", "x".repeat(300));
    let err = FaxTerminal::new(
        Role::Answering,
        Direction::Receive { tiff: long.into() },
        &T30Config::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadPath(_)));

    let err = FaxTerminal::new(
        Role::Answering,
        Direction::Receive {
            tiff: "/nonexistent-dir/rx.tif".into(),
        },
        &T30Config::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadReceivePath(_)));
}

#[test]
fn idents_headers_and_versions_are_checked() {
    let rx = Direction::Receive {
        tiff: std::env::temp_dir().join("never-written.tif"),
    };
    let config = T30Config {
        local_ident: "x".repeat(21),
        ..T30Config::default()
    };
    assert!(matches!(
        FaxTerminal::new(Role::Answering, rx.clone(), &config),
        Err(Error::BadIdent(_))
    ));

    let config = T30Config {
        header_info: Some("h".repeat(51)),
        ..T30Config::default()
    };
    assert!(matches!(
        FaxTerminal::new(Role::Answering, rx.clone(), &config),
        Err(Error::BadHeader(_))
    ));

    let t38 = T38Config {
        version: 4,
        ..T38Config::default()
    };
    let err = T38Terminal::new(Role::Answering, rx, &T30Config::default(), &t38).unwrap_err();
    assert!(matches!(err, Error::BadConfig(_)));

    // DIS cannot express "V.17 only"; SpanDSP's gateway would corrupt the rate bits.
    let config = GatewayConfig {
        modems: Modems::V17,
        ..GatewayConfig::default()
    };
    assert!(matches!(T38Gateway::new(&config), Err(Error::BadConfig(_))));
    assert!(T38Gateway::new(&GatewayConfig::default()).is_ok());
}

#[test]
fn completion_codes_carry_spandsp_text() {
    assert!(CompletionCode::OK.is_ok());
    assert_eq!(CompletionCode::CALL_DROPPED.0, 49);
    assert_eq!(
        CompletionCode::CALL_DROPPED.text(),
        "The call dropped prematurely"
    );
    assert_eq!(CompletionCode(9999).text(), "???");
}

#[test]
fn corrupt_image_data_is_found_by_the_full_check_only() {
    let mut bytes = write_bilevel_tiff(&fax_spec());
    // Point the first page's strip past the end of the file: the tags stay valid.
    let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let entries = u16::from_le_bytes([bytes[ifd], bytes[ifd + 1]]) as usize;
    let strip_offsets = (0..entries)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&at| u16::from_le_bytes([bytes[at], bytes[at + 1]]) == 273)
        .unwrap();
    bytes[strip_offsets + 8..strip_offsets + 12].copy_from_slice(&0x00F0_0000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.tif");
    std::fs::write(&path, bytes).unwrap();

    assert_eq!(
        reason(check_send_tiff(&path).unwrap_err()),
        "page 1 has corrupt image data"
    );
    let headers = inspect_send_tiff(&path, TiffCheck::Headers).unwrap();
    assert_eq!(headers.pages, 2, "the cheap per-call check reads tags only");
}

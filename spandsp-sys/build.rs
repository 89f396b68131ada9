//! Probes libspandsp with pkg-config, compiles the C shim, and generates narrow bindings.

use std::env;
use std::path::PathBuf;

const MISSING: &str =
    "libspandsp 0.0.6 was not found by pkg-config. On Debian 12 install it with:\n    \
     apt-get install -y libspandsp-dev libtiff-dev libclang-dev pkg-config\n\
     (libtiff-dev is needed because <spandsp.h> includes <tiffio.h>; libclang-dev for bindgen).";

fn main() {
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");

    let spandsp = pkg_config::Config::new()
        .atleast_version("0.0.6")
        .probe("spandsp")
        .unwrap_or_else(|err| panic!("{MISSING}\npkg-config said: {err}"));
    let tiff = pkg_config::Config::new()
        .probe("libtiff-4")
        .unwrap_or_else(|err| panic!("{MISSING}\npkg-config said: {err}"));

    let include_paths: Vec<PathBuf> = spandsp
        .include_paths
        .iter()
        .chain(tiff.include_paths.iter())
        .cloned()
        .collect();

    let mut shim = cc::Build::new();
    shim.file("shim/shim.c").warnings(true);
    for path in &include_paths {
        shim.include(path);
    }
    shim.compile("faxsrv_spandsp_shim");

    let mut builder = bindgen::Builder::default()
        .header("shim/shim.h")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        // Only what faxserver calls: the library also declares ~38 symbols that live in the
        // unshipped spandsp-sim library, which would fail at link time if bound and used.
        .allowlist_function("(fax|t30|t38|span_log|span_set|g711|modem_connect_tones|faxsrv)_.*")
        .allowlist_type("(t30|t38|fax|logging|g711|modem_connect_tones|faxsrv)_.*")
        .allowlist_var("(T30|T38|SPAN_LOG|G711|T4|MODEM_CONNECT_TONES)_.*")
        .blocklist_function("fax_modems_.*")
        .blocklist_function("t31_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false);
    for path in &include_paths {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|err| panic!("bindgen failed on <spandsp.h>: {err}\n{MISSING}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings.rs into OUT_DIR");
}

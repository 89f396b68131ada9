//! Rebuilds the binary when a migration changes, because the store embeds `migrations/`.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

//! Rebuilds a release binary when the demo site it embeds (`../www`) gains,
//! loses or changes a file.
//!
//! rust-embed tracks each embedded file it saw, but not files added later, such
//! as `www/vendor/token-wasm/` written by `npm run build`. Debug builds read the
//! site from disk at run time, so they need no rebuild.

fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rerun-if-changed=../www");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}

//! Embeds an rpath to libtorch so `target/release/silab` (and every test binary) runs without
//! LD_LIBRARY_PATH. torch-sys exports the libtorch lib dir to direct dependents as
//! `DEP_TCH_LIBTORCH_LIB` (its `links = "tch"` key).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    // The libtorch version, as set up by scripts/env.sh, for `silab bench` output.
    println!("cargo:rerun-if-env-changed=SILAB_TORCH");
    let torch = std::env::var("SILAB_TORCH").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=SILAB_TORCH_VERSION={torch}");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

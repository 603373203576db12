//! Puts the riscv64 linker script on the link search path, so kernels link
//! with `-C link-arg=-Tunikernel-riscv64.ld` (which `cargo unikernel` passes).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(
        out.join("unikernel-riscv64.ld"),
        include_bytes!("link/riscv64.ld"),
    )
    .expect("writing the linker script to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=link/riscv64.ld");
}

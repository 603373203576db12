#[unikernel::main]
fn main() -> ! {
    // On the host the function is Rust's `main`; end the process cleanly.
    std::process::exit(0)
}

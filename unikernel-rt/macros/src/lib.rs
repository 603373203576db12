//! Procedural macros for `unikernel-rt`.
use proc_macro::TokenStream;

/// Marks the application's entry point.
#[proc_macro_attribute]
pub fn main(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

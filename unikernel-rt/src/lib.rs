//! Runtime for unikernel applications.
#![cfg_attr(not(test), no_std)]
pub use unikernel_macros::main;

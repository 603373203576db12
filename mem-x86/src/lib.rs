//! x86_64 memory management: page mapping over the `x86_64` crate's 4-level
//! tables and frames from the `bootloader_api` memory map.
#![cfg_attr(not(test), no_std)]

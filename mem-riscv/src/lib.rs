//! RISC-V Sv39 memory management: our own three-level page tables and
//! memory maps read from the device tree.
#![cfg_attr(not(test), no_std)]

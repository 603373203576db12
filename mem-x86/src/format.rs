//! The x86_64 4-level page-table format, encoded with the `x86_64` crate's
//! [`PageTableFlags`].

use mem_core::paging::{FlagsNotSupported, PageFlags, PageTableFormat, TlbFlush};
use mem_core::{PhysAddr, VirtAddr};
use x86_64::structures::paging::PageTableFlags as X;

/// Entry bits 12..52 hold the frame or table address.
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// x86_64 4-level paging (PML4 → PDPT → PD → PT): 48-bit canonical virtual
/// addresses, 52-bit physical addresses, 2 MiB and 1 GiB leaves marked by
/// `HUGE_PAGE`.
///
/// Portable flags map as: `WRITE` → `WRITABLE`, no `EXECUTE` → `NO_EXECUTE`
/// (needs `EFER.NXE`, which the bootloader enables), `USER` →
/// `USER_ACCESSIBLE` (also set on every table entry above a user page),
/// `GLOBAL` → `GLOBAL`, `NO_CACHE` → `NO_CACHE | WRITE_THROUGH` (uncached
/// with the default PAT). Every present page is readable, so `READ` is
/// required. Table entries are `PRESENT | WRITABLE`: the leaf decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X86Format {}

// SAFETY: table entries carry the table address in bits 12..52 with PRESENT
// set and HUGE_PAGE clear, and `table_addr` reads those bits back; leaves at
// levels 1 and 2 carry HUGE_PAGE, level-0 entries are always leaves; the
// zero entry lacks PRESENT. Leaf addresses are masked to the level's size.
unsafe impl PageTableFormat for X86Format {
    const LEVELS: usize = 4;
    const VA_BITS: u32 = 48;
    const PA_BITS: u32 = 52;
    const MAX_LEAF_LEVEL: usize = 2;

    #[inline]
    fn check_flags(flags: PageFlags) -> Result<(), FlagsNotSupported> {
        if flags.contains(PageFlags::READ) {
            Ok(())
        } else {
            Err(FlagsNotSupported {
                flags,
                reason: "x86_64 pages are always readable: READ is required",
            })
        }
    }

    #[inline(always)]
    fn is_present(entry: u64) -> bool {
        entry & X::PRESENT.bits() != 0
    }

    #[inline(always)]
    fn is_leaf(entry: u64, level: usize) -> bool {
        level == 0 || entry & X::HUGE_PAGE.bits() != 0
    }

    #[inline(always)]
    fn encode_leaf(pa: PhysAddr, flags: PageFlags, level: usize) -> u64 {
        let mut bits = X::PRESENT;
        if flags.contains(PageFlags::WRITE) {
            bits |= X::WRITABLE;
        }
        if !flags.contains(PageFlags::EXECUTE) {
            bits |= X::NO_EXECUTE;
        }
        if flags.contains(PageFlags::USER) {
            bits |= X::USER_ACCESSIBLE;
        }
        if flags.contains(PageFlags::GLOBAL) {
            bits |= X::GLOBAL;
        }
        if flags.contains(PageFlags::NO_CACHE) {
            bits |= X::NO_CACHE | X::WRITE_THROUGH;
        }
        if level > 0 {
            bits |= X::HUGE_PAGE;
        }
        (pa.as_u64() & ADDR_MASK) | bits.bits()
    }

    #[inline(always)]
    fn encode_table(pa: PhysAddr, flags: PageFlags) -> u64 {
        let mut bits = X::PRESENT | X::WRITABLE;
        if flags.contains(PageFlags::USER) {
            bits |= X::USER_ACCESSIBLE;
        }
        (pa.as_u64() & ADDR_MASK) | bits.bits()
    }

    #[inline(always)]
    fn propagate(entry: u64, flags: PageFlags) -> u64 {
        if flags.contains(PageFlags::USER) {
            entry | X::USER_ACCESSIBLE.bits()
        } else {
            entry
        }
    }

    #[inline(always)]
    fn table_addr(entry: u64) -> PhysAddr {
        // SAFETY: masked to 52 bits, below `PhysAddr::LIMIT`.
        unsafe { PhysAddr::new_unchecked(entry & ADDR_MASK) }
    }

    #[inline(always)]
    fn leaf_addr(entry: u64, level: usize) -> PhysAddr {
        // Bit 12 of a huge leaf is its PAT bit, not address: mask to the
        // page size.
        let size_mask = !((1u64 << (12 + 9 * level)) - 1);
        // SAFETY: masked to 52 bits, below `PhysAddr::LIMIT`.
        unsafe { PhysAddr::new_unchecked(entry & ADDR_MASK & size_mask) }
    }

    #[inline(always)]
    fn leaf_flags(entry: u64, _level: usize) -> PageFlags {
        let bits = X::from_bits_retain(entry);
        let mut flags = PageFlags::READ;
        if bits.contains(X::WRITABLE) {
            flags |= PageFlags::WRITE;
        }
        if !bits.contains(X::NO_EXECUTE) {
            flags |= PageFlags::EXECUTE;
        }
        if bits.contains(X::USER_ACCESSIBLE) {
            flags |= PageFlags::USER;
        }
        if bits.contains(X::GLOBAL) {
            flags |= PageFlags::GLOBAL;
        }
        if bits.contains(X::NO_CACHE) {
            flags |= PageFlags::NO_CACHE;
        }
        flags
    }
}

/// `invlpg` and CR3 reloads on bare metal; no-ops elsewhere (the host runs
/// the same code over simulated memory, where there is no TLB to flush and
/// the instructions would fault in user mode).
impl TlbFlush for X86Format {
    #[inline]
    fn flush_page(addr: VirtAddr) {
        #[cfg(all(target_arch = "x86_64", target_os = "none"))]
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new_truncate(addr.as_u64()));
        #[cfg(not(all(target_arch = "x86_64", target_os = "none")))]
        let _ = addr;
    }

    /// Reloads CR3, which drops every non-global entry. Global entries
    /// survive: change global mappings page by page.
    #[inline]
    fn flush_all() {
        #[cfg(all(target_arch = "x86_64", target_os = "none"))]
        x86_64::instructions::tlb::flush_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_round_trips_flags_and_address() {
        let pa = PhysAddr::new(0x4000_0000);
        for bits in 0..PageFlags::all().bits() {
            let flags = PageFlags::from_bits_truncate(bits) | PageFlags::READ;
            for level in 0..3 {
                let e = X86Format::encode_leaf(pa, flags, level);
                assert!(X86Format::is_present(e) && X86Format::is_leaf(e, level));
                assert_eq!(X86Format::leaf_flags(e, level), flags);
                assert_eq!(X86Format::leaf_addr(e, level), pa);
            }
        }
        let rx = X86Format::encode_leaf(pa, PageFlags::RX, 0);
        assert_eq!(X::from_bits_retain(rx & !ADDR_MASK), X::PRESENT);
        let mmio = X86Format::encode_leaf(pa, PageFlags::MMIO, 1);
        assert_eq!(
            X::from_bits_retain(mmio & !ADDR_MASK),
            X::PRESENT
                | X::WRITABLE
                | X::NO_CACHE
                | X::WRITE_THROUGH
                | X::NO_EXECUTE
                | X::HUGE_PAGE
        );
    }

    #[test]
    fn huge_leaf_pat_bit_is_not_address() {
        let e = X86Format::encode_leaf(PhysAddr::new(0x20_0000), PageFlags::R, 1) | 1 << 12;
        assert_eq!(X86Format::leaf_addr(e, 1), PhysAddr::new(0x20_0000));
    }

    #[test]
    fn tables_are_not_leaves() {
        let t = X86Format::encode_table(PhysAddr::new(0x5000), PageFlags::RW);
        assert!(X86Format::is_present(t) && !X86Format::is_leaf(t, 1));
        assert_eq!(X86Format::table_addr(t), PhysAddr::new(0x5000));
        assert_eq!(X86Format::propagate(t, PageFlags::RW), t);
        let user = X86Format::propagate(t, PageFlags::RW | PageFlags::USER);
        assert_eq!(user, t | X::USER_ACCESSIBLE.bits());
        assert!(X86Format::check_flags(PageFlags::WRITE).is_err());
        assert!(!X86Format::is_present(0));
    }
}

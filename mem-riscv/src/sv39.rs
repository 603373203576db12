//! The RISC-V Sv39 page-table format.

use mem_core::paging::{FlagsNotSupported, PageFlags, PageTableFormat, TlbFlush};
use mem_core::{PhysAddr, VirtAddr};

/// Valid.
pub const PTE_V: u64 = 1 << 0;
/// Readable.
pub const PTE_R: u64 = 1 << 1;
/// Writable.
pub const PTE_W: u64 = 1 << 2;
/// Executable.
pub const PTE_X: u64 = 1 << 3;
/// Accessible from U-mode.
pub const PTE_U: u64 = 1 << 4;
/// Global mapping.
pub const PTE_G: u64 = 1 << 5;
/// Accessed.
pub const PTE_A: u64 = 1 << 6;
/// Dirty.
pub const PTE_D: u64 = 1 << 7;
/// First of the two RSW bits (8..10) reserved for software; this crate
/// records [`PageFlags::NO_CACHE`] in it.
pub const PTE_RSW_NO_CACHE: u64 = 1 << 8;
/// Bit position of the 44-bit physical page number.
pub const PPN_SHIFT: u32 = 10;
/// Mask of the PPN field after shifting it down.
const PPN_MASK: u64 = (1 << 44) - 1;

/// RISC-V Sv39: three levels of 512 entries (VPN\[2\], VPN\[1\], VPN\[0\]
/// of 9 bits above a 12-bit offset), 39-bit canonical virtual addresses
/// (bits 63..39 equal bit 38), 56-bit physical addresses in a 44-bit PPN,
/// 2 MiB megapages and 1 GiB gigapages.
///
/// Portable flags map to `R`/`W`/`X`/`U`/`G`. Every leaf also gets `A` and
/// `D` set: the privileged spec lets hardware raise a page fault instead of
/// setting them (Svade), and a unikernel has no use for the fault, so they
/// start set. Base Sv39 has no memory-type bits (cacheability comes from the
/// platform's PMAs, which already make MMIO uncached on QEMU `virt`), so
/// [`PageFlags::NO_CACHE`] is recorded in an RSW bit, round-trips through
/// `translate`, and has no hardware effect. `U` pages are not executable in
/// S-mode and readable there only with `sstatus.SUM`.
///
/// Writable pages must be readable (`W` without `R` is reserved), and, to
/// behave as x86_64 does, so must every page: `READ` is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sv39 {}

// SAFETY: table entries are `V` with `R`, `W`, `X` clear and the PPN of the
// table, which `table_addr` decodes back; leaves always carry `R`, so
// `is_leaf` holds for them; the zero entry has `V` clear. Leaf addresses are
// built from PPNs of frames aligned to the level's size by the engine.
unsafe impl PageTableFormat for Sv39 {
    const LEVELS: usize = 3;
    const VA_BITS: u32 = 39;
    const PA_BITS: u32 = 56;
    const MAX_LEAF_LEVEL: usize = 2;

    #[inline]
    fn check_flags(flags: PageFlags) -> Result<(), FlagsNotSupported> {
        if flags.contains(PageFlags::READ) {
            Ok(())
        } else {
            Err(FlagsNotSupported {
                flags,
                reason: "every mapping must be readable (Sv39 reserves write-only)",
            })
        }
    }

    #[inline(always)]
    fn is_present(entry: u64) -> bool {
        entry & PTE_V != 0
    }

    #[inline(always)]
    fn is_leaf(entry: u64, _level: usize) -> bool {
        entry & (PTE_R | PTE_W | PTE_X) != 0
    }

    #[inline(always)]
    fn encode_leaf(pa: PhysAddr, flags: PageFlags, _level: usize) -> u64 {
        let mut bits = PTE_V | PTE_R | PTE_A | PTE_D;
        if flags.contains(PageFlags::WRITE) {
            bits |= PTE_W;
        }
        if flags.contains(PageFlags::EXECUTE) {
            bits |= PTE_X;
        }
        if flags.contains(PageFlags::USER) {
            bits |= PTE_U;
        }
        if flags.contains(PageFlags::GLOBAL) {
            bits |= PTE_G;
        }
        if flags.contains(PageFlags::NO_CACHE) {
            bits |= PTE_RSW_NO_CACHE;
        }
        ((pa.as_u64() >> 12) << PPN_SHIFT) | bits
    }

    #[inline(always)]
    fn encode_table(pa: PhysAddr, _flags: PageFlags) -> u64 {
        // Non-leaf entries must leave U, A and D clear (reserved there).
        ((pa.as_u64() >> 12) << PPN_SHIFT) | PTE_V
    }

    #[inline(always)]
    fn propagate(entry: u64, _flags: PageFlags) -> u64 {
        entry
    }

    #[inline(always)]
    fn table_addr(entry: u64) -> PhysAddr {
        // SAFETY: a 44-bit PPN times 4 KiB is below 2^56 = `PhysAddr::LIMIT`.
        unsafe { PhysAddr::new_unchecked(((entry >> PPN_SHIFT) & PPN_MASK) << 12) }
    }

    #[inline(always)]
    fn leaf_addr(entry: u64, _level: usize) -> PhysAddr {
        Self::table_addr(entry)
    }

    #[inline(always)]
    fn leaf_flags(entry: u64, _level: usize) -> PageFlags {
        let mut flags = PageFlags::empty();
        for (bit, flag) in [
            (PTE_R, PageFlags::READ),
            (PTE_W, PageFlags::WRITE),
            (PTE_X, PageFlags::EXECUTE),
            (PTE_U, PageFlags::USER),
            (PTE_G, PageFlags::GLOBAL),
            (PTE_RSW_NO_CACHE, PageFlags::NO_CACHE),
        ] {
            if entry & bit != 0 {
                flags |= flag;
            }
        }
        flags
    }
}

/// `sfence.vma` on bare-metal riscv64; no-ops elsewhere (on the host there
/// is no TLB, and before paging is on nothing is cached).
impl TlbFlush for Sv39 {
    #[inline]
    fn flush_page(addr: VirtAddr) {
        #[cfg(all(target_arch = "riscv64", target_os = "none"))]
        // SAFETY: `sfence.vma` only orders and invalidates address
        // translation caches; it touches no memory Rust knows about.
        unsafe {
            core::arch::asm!("sfence.vma {0}, zero", in(reg) addr.as_u64(), options(nostack));
        }
        #[cfg(not(all(target_arch = "riscv64", target_os = "none")))]
        let _ = addr;
    }

    #[inline]
    fn flush_all() {
        #[cfg(all(target_arch = "riscv64", target_os = "none"))]
        // SAFETY: as in `flush_page`.
        unsafe {
            core::arch::asm!("sfence.vma zero, zero", options(nostack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_round_trip_and_set_a_d() {
        let pa = PhysAddr::new(0x00ff_ffff_c000_0000);
        for bits in 0..=PageFlags::all().bits() {
            let flags = PageFlags::from_bits_truncate(bits) | PageFlags::READ;
            for level in 0..3 {
                let e = Sv39::encode_leaf(pa, flags, level);
                assert!(Sv39::is_present(e) && Sv39::is_leaf(e, level));
                assert_eq!(e & (PTE_A | PTE_D), PTE_A | PTE_D);
                assert_eq!(Sv39::leaf_flags(e, level), flags);
                assert_eq!(Sv39::leaf_addr(e, level), pa);
                assert_eq!(e >> 54, 0, "reserved bits stay clear");
            }
        }
        let e = Sv39::encode_leaf(PhysAddr::new(0x8020_0000), PageFlags::RX, 0);
        assert_eq!(e, (0x80200 << 10) | PTE_V | PTE_R | PTE_X | PTE_A | PTE_D);
    }

    #[test]
    fn tables_are_bare_valid_pointers() {
        let t = Sv39::encode_table(PhysAddr::new(0x8040_1000), PageFlags::all());
        assert_eq!(t, (0x80401 << 10) | PTE_V);
        assert!(!Sv39::is_leaf(t, 1));
        assert_eq!(Sv39::table_addr(t), PhysAddr::new(0x8040_1000));
        assert!(Sv39::check_flags(PageFlags::WRITE | PageFlags::EXECUTE).is_err());
        assert!(!Sv39::is_present(0));
    }
}

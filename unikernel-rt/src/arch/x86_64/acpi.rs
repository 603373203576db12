//! ACPI: processors and interrupt controllers from the MADT, and soft
//! power-off through the FADT's PM1a control register and the DSDT's `\_S5`.
//!
//! The `acpi` crate validates the RSDP and the root table and finds tables by
//! signature (checking their checksums); the fields the runtime needs are
//! then read from the table bytes by the bounds-checked parsers in
//! [`crate::acpi_tables`]. The crate trusts the addresses and length fields
//! it finds in memory, so [`read`] first checks that every table the root
//! table lists lies inside the physical address space with a plausible
//! length: a broken table becomes an [`AcpiError`], never a read of
//! arbitrary memory or a panic.

use core::fmt;
use core::mem::size_of;
use core::ptr::NonNull;

use acpi::fadt::Fadt as CrateFadt;
use acpi::madt::Madt as CrateMadt;
use acpi::rsdp::Rsdp;
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use x86_64::instructions::port::Port;

use crate::acpi_tables::madt::{self, IoApic, Madt};
use crate::acpi_tables::{self, HEADER_LEN, Sig, TableError, aml_s5, fadt};

/// x86_64's architectural limit on physical addresses (MAXPHYADDR ≤ 52).
const PHYS_ADDR_LIMIT: u64 = 1 << 52;
/// Longest table accepted. Large servers have DSDTs of about a megabyte;
/// a length far beyond that is a corrupt header, not a table.
const MAX_TABLE_LEN: usize = 16 << 20;
/// Offsets in the RSDP: revision, and (revision 2+) the structure's length.
const RSDP_REVISION: usize = 15;
const RSDP_LENGTH: usize = 20;
/// An ACPI 1.0 RSDP; later ones are at least [`size_of::<Rsdp>()`] bytes.
const RSDP_V1_LEN: usize = 20;
/// Longest RSDP accepted (the ACPI 2.0+ structure is 36 bytes).
const MAX_RSDP_LEN: usize = 4096;

/// What the runtime needs from the ACPI tables.
#[derive(Debug, Clone)]
pub(crate) struct AcpiInfo {
    /// The RSDP revision: 0 for ACPI 1.0, 2 for ACPI 2.0 and later.
    pub(crate) revision: u8,
    /// Enabled processors (MADT local APIC and x2APIC entries, each APIC id
    /// counted once). Processors that are only online-capable are not
    /// running and are counted in `hotpluggable_cpus` instead.
    pub(crate) cpus: usize,
    /// Processors the firmware lists as disabled but hot-pluggable.
    pub(crate) hotpluggable_cpus: usize,
    /// Physical address of the local APIC registers.
    pub(crate) local_apic_address: u64,
    /// Whether legacy 8259 PICs are present (and need masking before the
    /// APICs are used).
    pub(crate) has_8259: bool,
    /// I/O port of the PM1a control register (the FADT's `X_PM1a_CNT_BLK`
    /// when set, else `PM1a_CNT_BLK`). `None` on hardware-reduced machines,
    /// when the register is memory-mapped, or when the FADT is unusable.
    pub(crate) pm1a_control: Option<u16>,
    /// `SLP_TYPa` of `\_S5` (soft off), scanned from the DSDT's AML (see
    /// [`crate::acpi_tables::aml_s5`]).
    pub(crate) slp_typ_s5: Option<u16>,
    /// The SMI command port and the value that switches the machine to
    /// ACPI mode, for firmware that boots in legacy mode.
    acpi_enable: Option<(u16, u8)>,
    madt: Madt,
}

impl AcpiInfo {
    /// APIC ids of the enabled processors, the boot processor first; at
    /// most [`madt::MAX_CPUS`] of them (`cpus` counts all).
    pub(crate) fn apic_ids(&self) -> &[u32] {
        self.madt.apic_ids()
    }

    /// The I/O APICs, at most [`madt::MAX_IO_APICS`].
    pub(crate) fn io_apics(&self) -> &[IoApic] {
        self.madt.io_apics()
    }
}

impl fmt::Display for AcpiInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ACPI (RSDP revision {}): {} CPU{}, local APIC at {:#x}, {} I/O APIC{}",
            self.revision,
            self.cpus,
            if self.cpus == 1 { "" } else { "s" },
            self.local_apic_address,
            self.madt.io_apics_listed,
            if self.madt.io_apics_listed == 1 {
                ""
            } else {
                "s"
            },
        )?;
        if self.hotpluggable_cpus > 0 {
            write!(f, ", {} hot-pluggable CPUs", self.hotpluggable_cpus)?;
        }
        match (self.pm1a_control, self.slp_typ_s5) {
            (Some(port), Some(typ)) => write!(f, ", S5 through port {port:#x} (SLP_TYP {typ})"),
            _ => f.write_str(", no ACPI power-off"),
        }
    }
}

/// Why the ACPI tables could not be read.
#[derive(Debug)]
pub(crate) enum AcpiError {
    /// A structure lies outside the physical address space (or at 0).
    BadAddress {
        /// Which structure.
        what: &'static str,
        /// Its physical address.
        phys: u64,
        /// Its length.
        len: usize,
    },
    /// A length field that cannot be right.
    BadLength {
        /// Which structure.
        what: &'static str,
        /// The length it claims.
        len: usize,
    },
    /// The `acpi` crate rejected the RSDP or a table, or found no MADT.
    Crate(acpi::AcpiError),
    /// A table's bytes were rejected.
    Table(TableError),
    /// The MADT's entries were rejected.
    Madt(madt::MadtError),
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcpiError::BadAddress { what, phys, len } => write!(
                f,
                "{what} at {phys:#x} (+{len:#x}) is outside physical memory"
            ),
            AcpiError::BadLength { what, len } => {
                write!(f, "{what} claims an implausible length {len}")
            }
            // The crate's error has no Display; its Debug form names the
            // problem and the table signature.
            AcpiError::Crate(e) => write!(f, "invalid ACPI tables: {e:?}"),
            AcpiError::Table(e) => e.fmt(f),
            AcpiError::Madt(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for AcpiError {}

impl From<acpi::AcpiError> for AcpiError {
    fn from(e: acpi::AcpiError) -> Self {
        AcpiError::Crate(e)
    }
}

/// Physical memory as the bootloader maps it: all of it, at `offset`.
#[derive(Debug, Clone, Copy)]
struct PhysWindow {
    offset: u64,
}

impl PhysWindow {
    /// Checks that `len` bytes at `phys` are physical addresses the window
    /// can translate, and returns the virtual address.
    fn check(&self, what: &'static str, phys: u64, len: usize) -> Result<u64, AcpiError> {
        let bad = || AcpiError::BadAddress { what, phys, len };
        let end = phys.checked_add(len as u64).ok_or_else(bad)?;
        // Physical 0 holds the real-mode interrupt table, never ACPI; a zero
        // pointer is a missing one.
        if phys == 0 || end > PHYS_ADDR_LIMIT {
            return Err(bad());
        }
        let virt = phys.checked_add(self.offset).ok_or_else(bad)?;
        virt.checked_add(len as u64).ok_or_else(bad)?;
        Ok(virt)
    }

    /// The bytes at a range [`check`](Self::check) accepts.
    ///
    /// # Safety
    /// The range must be memory the bootloader mapped at `offset`
    /// (firmware tables are: they are in its memory map), and nothing may
    /// write it while the slice lives.
    unsafe fn bytes(&self, what: &'static str, phys: u64, len: usize) -> Result<&[u8], AcpiError> {
        let virt = self.check(what, phys, len)?;
        // SAFETY: `check` made the range non-null and free of overflow; the
        // caller guarantees it is mapped and not written.
        Ok(unsafe { core::slice::from_raw_parts(virt as *const u8, len) })
    }
}

impl AcpiHandler for PhysWindow {
    /// Every range the `acpi` crate maps was checked by [`read`] first (the
    /// RSDP, the root table and each table it lists), so translating is an
    /// addition; nothing is mapped or unmapped.
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let virt = (physical_address as u64).wrapping_add(self.offset);
        let ptr = NonNull::new(virt as *mut T)
            .expect("read() checked every ACPI address: none is 0 after the offset");
        // SAFETY: the bootloader maps all physical memory at `offset`, so
        // `virt` is the table's mapping for as long as the runtime runs.
        unsafe { PhysicalMapping::new(physical_address, ptr, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Reads the ACPI tables from the RSDP the bootloader reported
/// (`BootInfo::rsdp_addr`), with all physical memory mapped at
/// `phys_offset`.
///
/// The MADT is required (without one there is nothing to report). A missing
/// or broken FADT or DSDT is logged and only leaves [`power_off`] unable to
/// work.
pub(crate) fn read(rsdp_phys: u64, phys_offset: u64) -> Result<AcpiInfo, AcpiError> {
    let window = PhysWindow {
        offset: phys_offset,
    };

    let rsdp_len = rsdp_length(&window, rsdp_phys)?;
    window.check("RSDP", rsdp_phys, rsdp_len.max(size_of::<Rsdp>()))?;
    // SAFETY: the range was checked (including the `length` the crate
    // checksums), and the bootloader maps all physical memory at the offset.
    let rsdp = unsafe { window.map_physical_region::<Rsdp>(rsdp_phys as usize, size_of::<Rsdp>()) };
    rsdp.validate()?;
    let revision = rsdp.revision();
    // As the crate does: the XSDT from ACPI 2.0 on, else the RSDT.
    let (root_phys, entry_len) = if revision == 0 {
        (u64::from(rsdp.rsdt_address()), 4)
    } else {
        (rsdp.xsdt_address(), 8)
    };
    let found = preflight(&window, root_phys, entry_len)?;
    // SAFETY: the RSDP was validated above, and `preflight` checked the
    // root table and every table it lists.
    let tables = unsafe { AcpiTables::from_validated_rsdp(window, rsdp) }?;

    let madt = {
        if let Some(len) = found.bad_madt_len {
            return Err(AcpiError::BadLength { what: "MADT", len });
        }
        let mapping = tables.find_table::<CrateMadt>()?;
        // SAFETY: the crate validated the table at this mapping (`preflight`
        // bounded its length), and ACPI tables are never written.
        let bytes = unsafe { mapping_bytes(&mapping) };
        madt::parse(acpi_tables::validate(bytes, b"APIC").map_err(AcpiError::Table)?)
            .map_err(AcpiError::Madt)?
    };

    let power = match power_registers(&window, &tables, &found) {
        Ok(power) => power,
        Err(e) => {
            log::warn!("ACPI power-off unavailable: {e}");
            PowerRegisters::default()
        }
    };

    Ok(AcpiInfo {
        revision,
        cpus: madt.cpus,
        hotpluggable_cpus: madt.hotpluggable_cpus,
        local_apic_address: madt.local_apic_address,
        has_8259: madt.has_8259,
        pm1a_control: power.pm1a_control,
        slp_typ_s5: power.slp_typ_s5,
        acpi_enable: power.acpi_enable,
        madt,
    })
}

/// How many bytes the RSDP's checksums cover (read before the crate
/// checksums them, since the ACPI 2.0 `length` field is untrusted).
fn rsdp_length(window: &PhysWindow, rsdp_phys: u64) -> Result<usize, AcpiError> {
    // SAFETY: the bootloader reported this as the RSDP, which lies in
    // firmware memory it mapped; `bytes` checks the range.
    let head = unsafe { window.bytes("RSDP", rsdp_phys, size_of::<Rsdp>()) }?;
    if head[RSDP_REVISION] == 0 {
        return Ok(RSDP_V1_LEN);
    }
    let len = acpi_tables::read_u32(head, RSDP_LENGTH).map_or(0, |l| l as usize);
    if !(size_of::<Rsdp>()..=MAX_RSDP_LEN).contains(&len) {
        return Err(AcpiError::BadLength { what: "RSDP", len });
    }
    Ok(len)
}

/// What [`preflight`] learned: the implausible length of a MADT or FADT,
/// which the crate must not be asked for (it would checksum that many bytes).
struct Preflight {
    bad_madt_len: Option<usize>,
    bad_fadt_len: Option<usize>,
}

/// Checks the bounds the `acpi` crate assumes: the root table and every
/// table it lists lie inside the physical address space, and the tables the
/// runtime looks up (MADT, FADT) have plausible lengths.
fn preflight(
    window: &PhysWindow,
    root_phys: u64,
    entry_len: usize,
) -> Result<Preflight, AcpiError> {
    // SAFETY: (this and the other `bytes` calls here) table addresses come
    // from the validated RSDP and root table, which point into firmware
    // memory the bootloader mapped; `bytes` checks each range.
    let header = unsafe { window.bytes("root table", root_phys, HEADER_LEN) }?;
    let root_len = acpi_tables::header_length(header).unwrap_or(0);
    // The crate turns a partial trailing entry into a pointer too, which
    // would escape the checks below.
    if !(HEADER_LEN..=MAX_TABLE_LEN).contains(&root_len)
        || !(root_len - HEADER_LEN).is_multiple_of(entry_len)
    {
        return Err(AcpiError::BadLength {
            what: "root table",
            len: root_len,
        });
    }
    // SAFETY: see above.
    let root = unsafe { window.bytes("root table", root_phys, root_len) }?;
    let mut found = Preflight {
        bad_madt_len: None,
        bad_fadt_len: None,
    };
    for entry in root[HEADER_LEN..].chunks_exact(entry_len) {
        let mut le = [0u8; 8];
        le[..entry_len].copy_from_slice(entry);
        let phys = u64::from_le_bytes(le);
        // SAFETY: see above.
        let header = unsafe { window.bytes("ACPI table", phys, HEADER_LEN) }?;
        let signature = [header[0], header[1], header[2], header[3]];
        let len = acpi_tables::header_length(header).unwrap_or(0);
        let slot = match &signature {
            b"APIC" => &mut found.bad_madt_len,
            b"FACP" => &mut found.bad_fadt_len,
            _ => continue,
        };
        if !(HEADER_LEN..=MAX_TABLE_LEN).contains(&len)
            || window.check("ACPI table", phys, len).is_err()
        {
            log::warn!(
                "ACPI {} table at {phys:#x} claims {len} bytes",
                Sig(&signature)
            );
            *slot = Some(len);
        }
    }
    Ok(found)
}

/// The table bytes behind a mapping the crate validated.
///
/// # Safety
/// The mapping must cover its `region_length` bytes of unchanging memory.
unsafe fn mapping_bytes<T>(mapping: &PhysicalMapping<PhysWindow, T>) -> &[u8] {
    // SAFETY: guaranteed by the caller.
    unsafe {
        core::slice::from_raw_parts(
            mapping.virtual_start().as_ptr().cast::<u8>(),
            mapping.region_length(),
        )
    }
}

/// What soft power-off needs (see the fields of [`AcpiInfo`]).
#[derive(Debug, Default)]
struct PowerRegisters {
    pm1a_control: Option<u16>,
    acpi_enable: Option<(u16, u8)>,
    slp_typ_s5: Option<u16>,
}

/// The FADT's PM1a control port and ACPI-enable handshake, and `\_S5`'s
/// sleep type from the DSDT.
fn power_registers(
    window: &PhysWindow,
    tables: &AcpiTables<PhysWindow>,
    found: &Preflight,
) -> Result<PowerRegisters, AcpiError> {
    if let Some(len) = found.bad_fadt_len {
        return Err(AcpiError::BadLength { what: "FADT", len });
    }
    let mapping = tables.find_table::<CrateFadt>()?;
    // SAFETY: the crate validated the table at this mapping (`preflight`
    // bounded its length), and ACPI tables are never written.
    let bytes = unsafe { mapping_bytes(&mapping) };
    let fadt = fadt::parse(acpi_tables::validate(bytes, b"FACP").map_err(AcpiError::Table)?)
        .map_err(AcpiError::Table)?;
    let slp_typ = match fadt.dsdt {
        Some(dsdt) => s5_sleep_type(window, dsdt)?,
        None => {
            log::warn!("the FADT names no DSDT");
            None
        }
    };
    Ok(PowerRegisters {
        pm1a_control: fadt.pm1a_control,
        acpi_enable: fadt.acpi_enable,
        slp_typ_s5: slp_typ,
    })
}

/// Validates the DSDT and scans its AML for `\_S5`.
fn s5_sleep_type(window: &PhysWindow, dsdt_phys: u64) -> Result<Option<u16>, AcpiError> {
    // SAFETY: the DSDT address comes from the validated FADT and points
    // into firmware memory the bootloader mapped; `bytes` checks the range.
    let header = unsafe { window.bytes("DSDT", dsdt_phys, HEADER_LEN) }?;
    let len = acpi_tables::header_length(header).unwrap_or(0);
    if !(HEADER_LEN..=MAX_TABLE_LEN).contains(&len) {
        return Err(AcpiError::BadLength { what: "DSDT", len });
    }
    // SAFETY: as above.
    let bytes = unsafe { window.bytes("DSDT", dsdt_phys, len) }?;
    let dsdt = acpi_tables::validate(bytes, b"DSDT").map_err(AcpiError::Table)?;
    let s5 = aml_s5::find(&dsdt[HEADER_LEN..]);
    if s5.is_none() {
        log::warn!("no \\_S5 package found in the DSDT");
    }
    Ok(s5.map(|s| s.a))
}

/// PM1 control register bits.
const SCI_EN: u16 = 1 << 0;
const SLP_TYP_SHIFT: u16 = 10;
const SLP_TYP_MASK: u16 = 0b111 << SLP_TYP_SHIFT;
const SLP_EN: u16 = 1 << 13;
/// Polls of `SCI_EN` after asking firmware for ACPI mode (each is a port
/// read, about a microsecond on hardware: some firmware takes a few
/// hundred milliseconds).
const ACPI_ENABLE_POLLS: u32 = 1_000_000;
/// Port reads to wait after `SLP_EN` before concluding that nothing
/// happened (the power-off is not instantaneous, on QEMU either).
const POWER_OFF_SETTLE_READS: u32 = 100_000;

/// Powers off through PM1a (`SLP_TYPa << 10 | SLP_EN`). Returns only if that
/// did nothing, or if the tables gave no way to try (`pm1a_control` or
/// `slp_typ_s5` is `None`).
///
/// Only PM1a is written: machines with a PM1b register block (rare, and not
/// QEMU) may need both. On QEMU the run ends with exit status 0.
pub(crate) fn power_off(info: &AcpiInfo) {
    let (Some(port), Some(slp_typ)) = (info.pm1a_control, info.slp_typ_s5) else {
        return;
    };
    x86_64::instructions::interrupts::without_interrupts(|| {
        let mut pm1a = Port::<u16>::new(port);
        // SAFETY: (this and the other accesses to `pm1a` here) the FADT
        // names this port as the PM1a control register; reading it has no
        // side effect, and writing SLP_TYP and SLP_EN is the soft-off
        // sequence the runtime wants.
        let mut control = unsafe { pm1a.read() };
        if control & SCI_EN == 0
            && let Some((smi_cmd, enable)) = info.acpi_enable
        {
            // SAFETY: the FADT names this port as the SMI command port and
            // `enable` as the value that hands ACPI to the OS.
            unsafe { Port::<u8>::new(smi_cmd).write(enable) };
            for _ in 0..ACPI_ENABLE_POLLS {
                // SAFETY: see above.
                control = unsafe { pm1a.read() };
                if control & SCI_EN != 0 {
                    break;
                }
            }
        }
        let sleep =
            (control & !(SLP_TYP_MASK | SLP_EN)) | ((slp_typ << SLP_TYP_SHIFT) & SLP_TYP_MASK);
        // Some chipsets latch the type before the enable bit, as ACPICA
        // writes them.
        // SAFETY: see above.
        unsafe {
            pm1a.write(sleep);
            pm1a.write(sleep | SLP_EN);
        }
        for _ in 0..POWER_OFF_SETTLE_READS {
            // SAFETY: see above.
            unsafe { pm1a.read() };
        }
    });
}

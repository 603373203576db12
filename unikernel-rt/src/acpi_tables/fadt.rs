//! The FADT ("FACP" table): where the DSDT is and the power-management
//! registers needed to power off.
//!
//! Fields are read by offset with the table's own length deciding which
//! exist: the `acpi` crate's `Fadt` type decides by the header revision and
//! reads its full 276-byte layout, past the end of a short (116-byte)
//! ACPI 1.0 FADT, which firmware may still provide.

use core::fmt;

use super::{TableError, read_u8, read_u32, read_u64};

const DSDT: usize = 40;
const SMI_CMD: usize = 48;
const ACPI_ENABLE: usize = 52;
const PM1A_CNT_BLK: usize = 64;
const PM1_CNT_LEN: usize = 89;
const FLAGS: usize = 112;
const X_DSDT: usize = 140;
const X_PM1A_CNT_BLK: usize = 172;

/// `HW_REDUCED_ACPI`: no PM1 registers; sleep goes through the sleep
/// control register instead.
const FLAG_HW_REDUCED: u32 = 1 << 20;
/// Generic address structure: address space id for system I/O.
const GAS_SYSTEM_IO: u8 = 1;
/// Size of a generic address structure.
const GAS_LEN: usize = 12;

/// What the runtime takes from the FADT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fadt {
    /// Physical address of the DSDT (`X_DSDT` when present and non-zero).
    pub(crate) dsdt: Option<u64>,
    /// I/O port of the PM1a control register, if it is in I/O space.
    pub(crate) pm1a_control: Option<u16>,
    /// The SMI command port and the value that hands the ACPI registers to
    /// the OS, if the machine boots in legacy (non-ACPI) mode.
    pub(crate) acpi_enable: Option<(u16, u8)>,
    /// A hardware-reduced ACPI machine (no PM1 registers).
    pub(crate) hardware_reduced: bool,
}

/// Reads a FADT that [`super::validate`] accepted.
pub(crate) fn parse(table: &[u8]) -> Result<Fadt, TableError> {
    // ACPI 1.0's FADT ends at 116 bytes; everything the runtime needs from
    // the legacy part lies before the flags.
    let needed = FLAGS + 4;
    let truncated = TableError::Truncated {
        signature: *b"FACP",
        available: table.len(),
        needed,
    };
    let flags = read_u32(table, FLAGS).ok_or(truncated)?;
    let legacy_dsdt = read_u32(table, DSDT).ok_or(truncated)?;
    let smi_cmd = read_u32(table, SMI_CMD).ok_or(truncated)?;
    let acpi_enable = read_u8(table, ACPI_ENABLE).ok_or(truncated)?;
    let legacy_pm1a = read_u32(table, PM1A_CNT_BLK).ok_or(truncated)?;
    let pm1_cnt_len = read_u8(table, PM1_CNT_LEN).ok_or(truncated)?;

    // The 64-bit fields win when the table is long enough to hold them and
    // they are set; the specification says the 32-bit ones must then be
    // ignored.
    let dsdt = read_u64(table, X_DSDT)
        .filter(|&a| a != 0)
        .or(Some(u64::from(legacy_dsdt)))
        .filter(|&a| a != 0);

    let hardware_reduced = flags & FLAG_HW_REDUCED != 0;
    let pm1a_control = if hardware_reduced {
        None
    } else {
        match extended_pm1a(table) {
            Some(gas) => gas,
            // PM1_CNT_LEN must be at least 2 (a 16-bit register).
            None if pm1_cnt_len >= 2 => io_port(u64::from(legacy_pm1a)),
            None => None,
        }
    };

    Ok(Fadt {
        dsdt,
        pm1a_control,
        acpi_enable: io_port(u64::from(smi_cmd))
            .filter(|_| acpi_enable != 0)
            .map(|port| (port, acpi_enable)),
        hardware_reduced,
    })
}

/// `X_PM1a_CNT_BLK`: `None` when absent or zero (use the legacy field),
/// `Some(None)` when set but not a usable I/O port (memory-mapped PM1
/// registers are not supported).
fn extended_pm1a(table: &[u8]) -> Option<Option<u16>> {
    let gas = table.get(X_PM1A_CNT_BLK..X_PM1A_CNT_BLK + GAS_LEN)?;
    let address = read_u64(gas, 4)?;
    if address == 0 {
        return None;
    }
    Some(if gas[0] == GAS_SYSTEM_IO {
        io_port(address)
    } else {
        None
    })
}

/// A non-zero address that fits the 16-bit I/O space.
fn io_port(address: u64) -> Option<u16> {
    u16::try_from(address).ok().filter(|&p| p != 0)
}

impl fmt::Display for Fadt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pm1a_control {
            Some(port) => write!(f, "PM1a control at port {port:#x}"),
            None => f.write_str("no PM1a control port"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::table;
    use super::super::{HEADER_LEN, validate};
    use super::*;

    /// An ACPI 1.0 FADT body with the ports of QEMU's PIIX4 `pc` machine:
    /// SMI command 0xb2 with ACPI enable 0xf1, PM1a control at 0x604.
    fn acpi1_body() -> Vec<u8> {
        let mut b = vec![0u8; 116 - HEADER_LEN];
        let mut put = |off: usize, v: &[u8]| {
            b[off - HEADER_LEN..off - HEADER_LEN + v.len()].copy_from_slice(v)
        };
        put(DSDT, &0x07fe_0040u32.to_le_bytes());
        put(SMI_CMD, &0xb2u32.to_le_bytes());
        put(ACPI_ENABLE, &[0xf1]);
        put(PM1A_CNT_BLK, &0x604u32.to_le_bytes());
        put(PM1_CNT_LEN, &[2]);
        b
    }

    fn parse_body(revision: u8, body: &[u8]) -> Result<Fadt, TableError> {
        let t = table(b"FACP", revision, body);
        parse(validate(&t, b"FACP").unwrap())
    }

    fn gas(space: u8, address: u64) -> [u8; GAS_LEN] {
        let mut g = [0u8; GAS_LEN];
        g[0] = space;
        g[1] = 16;
        g[3] = 2;
        g[4..].copy_from_slice(&address.to_le_bytes());
        g
    }

    /// A full-length (ACPI 2.0+) body around the ACPI 1.0 one.
    fn extended_body(x_dsdt: u64, x_pm1a: [u8; GAS_LEN]) -> Vec<u8> {
        let mut b = acpi1_body();
        b.resize(276 - HEADER_LEN, 0);
        b[X_DSDT - HEADER_LEN..X_DSDT - HEADER_LEN + 8].copy_from_slice(&x_dsdt.to_le_bytes());
        b[X_PM1A_CNT_BLK - HEADER_LEN..X_PM1A_CNT_BLK - HEADER_LEN + GAS_LEN]
            .copy_from_slice(&x_pm1a);
        b
    }

    #[test]
    fn reads_an_acpi1_fadt_without_reading_past_it() {
        let fadt = parse_body(1, &acpi1_body()).unwrap();
        assert_eq!(fadt.dsdt, Some(0x07fe_0040));
        assert_eq!(fadt.pm1a_control, Some(0x604));
        assert_eq!(fadt.acpi_enable, Some((0xb2, 0xf1)));
        assert!(!fadt.hardware_reduced);
    }

    #[test]
    fn prefers_the_extended_fields() {
        let fadt =
            parse_body(6, &extended_body(0x1_0000_0000, gas(GAS_SYSTEM_IO, 0xb004))).unwrap();
        assert_eq!(fadt.dsdt, Some(0x1_0000_0000));
        assert_eq!(fadt.pm1a_control, Some(0xb004));
    }

    #[test]
    fn zero_extended_fields_fall_back_to_the_legacy_ones() {
        let fadt = parse_body(3, &extended_body(0, [0; GAS_LEN])).unwrap();
        assert_eq!(fadt.dsdt, Some(0x07fe_0040));
        assert_eq!(fadt.pm1a_control, Some(0x604));
    }

    #[test]
    fn memory_mapped_or_oversized_pm1a_is_not_an_io_port() {
        let mmio = parse_body(6, &extended_body(0, gas(0, 0xfed0_0000))).unwrap();
        assert_eq!(mmio.pm1a_control, None);
        let big = parse_body(6, &extended_body(0, gas(GAS_SYSTEM_IO, 0x1_0000))).unwrap();
        assert_eq!(big.pm1a_control, None);
    }

    #[test]
    fn hardware_reduced_machines_have_no_pm1() {
        let mut b = acpi1_body();
        b[FLAGS - HEADER_LEN + 2] = 0x10; // bit 20
        let fadt = parse_body(5, &b).unwrap();
        assert!(fadt.hardware_reduced);
        assert_eq!(fadt.pm1a_control, None);
    }

    #[test]
    fn missing_dsdt_and_smi_port_are_none() {
        let mut b = acpi1_body();
        b[DSDT - HEADER_LEN..DSDT - HEADER_LEN + 4].fill(0);
        b[SMI_CMD - HEADER_LEN..SMI_CMD - HEADER_LEN + 4].fill(0);
        let fadt = parse_body(1, &b).unwrap();
        assert_eq!(fadt.dsdt, None);
        assert_eq!(fadt.acpi_enable, None);
    }

    #[test]
    fn rejects_a_fadt_shorter_than_acpi1() {
        let b = acpi1_body();
        assert_eq!(
            parse_body(1, &b[..60]).unwrap_err(),
            TableError::Truncated {
                signature: *b"FACP",
                available: HEADER_LEN + 60,
                needed: 116
            }
        );
    }
}

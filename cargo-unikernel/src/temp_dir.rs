//! A scratch directory: for the suite's generated application, and for
//! tests that need real files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A fresh, empty directory under the system temp dir, removed (with
/// everything in it) on drop. Named by a tag and the process id, so runs at
/// once do not share one; a leftover of an earlier run with the same id is
/// removed first.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> io::Result<TempDir> {
        let dir =
            std::env::temp_dir().join(format!("cargo-unikernel-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A leftover in the temp dir is harmless, and there is no one to tell.
        let _ = fs::remove_dir_all(&self.0);
    }
}

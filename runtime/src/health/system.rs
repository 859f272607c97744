//! The box itself: free disk under the data directory, and available memory (`sysinfo`).

use std::path::{Path, PathBuf};

use sysinfo::{Disks, MemoryRefreshKind, RefreshKind, System};

/// What the box has left.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SystemFacts {
    /// Free space on the file system of the data directory, percent (None: unknown).
    pub disk_free_percent: Option<f64>,
    /// Available memory, percent of the total (None: unknown).
    pub memory_available_percent: Option<f64>,
}

/// Reads [`SystemFacts`] for a data directory.
pub struct SystemProbe {
    data_dir: PathBuf,
    system: System,
    disks: Disks,
}

impl SystemProbe {
    /// A probe for the file system holding `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.canonicalize().unwrap_or_else(|_| data_dir.into()),
            system: System::new_with_specifics(
                RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
            ),
            disks: Disks::new_with_refreshed_list(),
        }
    }

    /// The facts now.
    pub fn read(&mut self) -> SystemFacts {
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.disks.refresh(true);
        let percent =
            |part: u64, total: u64| (total > 0).then(|| 100.0 * part as f64 / total as f64);
        // The data directory lives on the disk with the longest mount point above it.
        let disk = self
            .disks
            .iter()
            .filter(|d| self.data_dir.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len());
        SystemFacts {
            disk_free_percent: disk.and_then(|d| percent(d.available_space(), d.total_space())),
            memory_available_percent: percent(
                self.system.available_memory(),
                self.system.total_memory(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machines_disk_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let facts = SystemProbe::new(dir.path()).read();
        let disk = facts.disk_free_percent.expect("a temp dir is on some disk");
        let memory = facts
            .memory_available_percent
            .expect("Linux reports memory");
        assert!(disk > 0.0 && disk <= 100.0, "{disk}");
        assert!(memory > 0.0 && memory <= 100.0, "{memory}");
    }
}

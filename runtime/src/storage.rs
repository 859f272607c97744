//! The pole's sled database: one per data directory, holding plugin configs and kv, the
//! uplink outbox, control state and the audit trail.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long [`open_db`] waits for a closing handle of the same database to let go.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens (or creates) the database at `path`.
///
/// sled locks its files for as long as any handle lives, and a handle dropped in this
/// process is released only when sled's background flusher lets go of it, a moment
/// later. A database reopened in the same process (a runtime restarted in place, a
/// test) therefore waits up to five seconds for that lock instead of failing; another
/// process holding it still fails, after the wait, with sled's error.
pub fn open_db(path: &Path) -> sled::Result<sled::Db> {
    let started = Instant::now();
    loop {
        match sled::open(path) {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_dropped_in_this_process_can_be_reopened_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..20u8 {
            let db = open_db(dir.path()).unwrap();
            let tree = db.open_tree("t").unwrap();
            tree.insert([n], &[n]).unwrap();
            tree.flush().unwrap();
            assert_eq!(tree.len(), usize::from(n) + 1);
        }
    }

    #[test]
    fn a_database_held_open_is_refused_after_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let _held = open_db(dir.path()).unwrap();
        let started = Instant::now();
        let err = open_db(dir.path()).unwrap_err();
        assert!(err.to_string().contains("could not acquire lock"), "{err}");
        assert!(started.elapsed() >= LOCK_WAIT);
    }
}

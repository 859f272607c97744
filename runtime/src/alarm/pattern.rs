//! On/off patterns of alarm outputs: a cycle of on and off phases, or steady on.

/// Shortest phase accepted, ms: faster switching wears relays and is not seen anyway.
const MIN_PHASE_MS: u32 = 50;

/// A repeating cycle `[on, off, on, off, …]` in milliseconds, starting on; empty is
/// steady on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    phases: Vec<u32>,
    period: u64,
}

impl Pattern {
    /// A pattern of `phases`. Errors unless it is empty or an even number of phases of at
    /// least 50 ms each.
    pub fn new(phases: &[u32]) -> Result<Self, String> {
        if !phases.len().is_multiple_of(2) {
            return Err(format!("needs on/off pairs, got {} phases", phases.len()));
        }
        if let Some(short) = phases.iter().find(|&&p| p < MIN_PHASE_MS) {
            return Err(format!(
                "phases must be at least {MIN_PHASE_MS} ms, got {short}"
            ));
        }
        Ok(Self {
            period: phases.iter().map(|&p| u64::from(p)).sum(),
            phases: phases.to_vec(),
        })
    }

    /// Whether the output is on `elapsed` ms into the pattern, and when (elapsed ms) that
    /// next changes (`None`: never).
    pub fn at(&self, elapsed: u64) -> (bool, Option<u64>) {
        if self.period == 0 {
            return (true, None);
        }
        let cycle_start = elapsed - elapsed % self.period;
        let mut phase_end = cycle_start;
        for (i, &phase) in self.phases.iter().enumerate() {
            phase_end += u64::from(phase);
            if elapsed < phase_end {
                return (i % 2 == 0, Some(phase_end));
            }
        }
        unreachable!("elapsed lies within its cycle")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_on_then_off() {
        let p = Pattern::new(&[500, 250]).unwrap();
        assert_eq!(p.at(0), (true, Some(500)));
        assert_eq!(p.at(499), (true, Some(500)));
        assert_eq!(p.at(500), (false, Some(750)));
        assert_eq!(p.at(750), (true, Some(1250)));
        assert_eq!(p.at(7_300), (false, Some(7_500)));
        assert_eq!(p.at(7_600), (true, Some(8_000)));
    }

    #[test]
    fn steady_never_changes() {
        assert_eq!(Pattern::new(&[]).unwrap().at(123_456), (true, None));
    }

    #[test]
    fn refuses_odd_and_too_fast_patterns() {
        assert!(Pattern::new(&[500]).unwrap_err().contains("pairs"));
        assert!(Pattern::new(&[500, 10])
            .unwrap_err()
            .contains("at least 50 ms"));
    }
}

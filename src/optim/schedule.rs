//! The learning-rate factor over a run: a linear warmup, then the schedule (`constant`, `cosine`
//! to 0 over the remaining steps, or `step`: `gamma` at each milestone epoch). It multiplies
//! `lr` (full space, non-SI tensors) and the ELR (sphere); the rotational angle is set by it
//! through eta_r(lr).

use crate::config::{OptimConfig, Schedule};

/// The schedule of a run: its config and length.
#[derive(Clone, Debug)]
pub struct LrSchedule {
    schedule: Schedule,
    milestones: Vec<usize>,
    gamma: f64,
    warmup: usize,
    total_steps: usize,
    steps_per_epoch: usize,
}

impl LrSchedule {
    pub fn new(cfg: &OptimConfig, steps_per_epoch: usize, epochs: usize) -> LrSchedule {
        let warmup = if cfg.warmup_steps > 0 { cfg.warmup_steps } else { cfg.warmup_epochs * steps_per_epoch };
        LrSchedule {
            schedule: cfg.schedule,
            milestones: cfg.milestones.clone(),
            gamma: cfg.gamma,
            warmup,
            total_steps: steps_per_epoch * epochs,
            steps_per_epoch,
        }
    }

    /// The factor at global step `step` (0-based): `(step + 1) / warmup` during the warmup, then
    /// the schedule, a cosine running over the steps after the warmup.
    pub fn factor(&self, step: usize) -> f64 {
        if step < self.warmup {
            return (step + 1) as f64 / self.warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => 1.0,
            Schedule::Cosine => {
                let t = (step - self.warmup) as f64 / self.total_steps.saturating_sub(self.warmup).max(1) as f64;
                0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
            Schedule::Step => {
                let epoch = step / self.steps_per_epoch.max(1);
                let passed = self.milestones.iter().filter(|&&m| epoch >= m).count();
                self.gamma.powi(passed as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_over_the_rest() {
        let cfg = OptimConfig { schedule: Schedule::Cosine, warmup_steps: 4, ..Default::default() };
        let s = LrSchedule::new(&cfg, 2, 7); // 14 steps, 4 of warmup, cosine over 10
        let f: Vec<f64> = (0..14).map(|i| s.factor(i)).collect();
        assert_eq!(&f[..4], &[0.25, 0.5, 0.75, 1.0]);
        assert_eq!(f[4], 1.0);
        assert!((f[9] - 0.5).abs() < 1e-12);
        assert!(f[13] > 0.0 && f[13] < 0.03);
        let cfg = OptimConfig { warmup_epochs: 1, ..Default::default() };
        assert_eq!(LrSchedule::new(&cfg, 5, 3).factor(2), 0.6);
    }
}

//! When a run writes and deletes checkpoints, as a value: the policy answers, for each completed
//! epoch, the actions to take (in the manner of burn's `CheckpointingStrategy`).

use crate::config::TrainConfig;

/// One thing to do with checkpoints at the end of an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write the model and optimizer state of this epoch (and the summary).
    Save,
    /// Remove the checkpoint of that epoch.
    Delete(usize),
}

/// `train.checkpoint_every`, `train.keep_checkpoints` and the run's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Save every this many epochs (0: only at the end).
    pub every: usize,
    /// Keep every saved checkpoint; otherwise only the initial one and the latest.
    pub keep: bool,
    pub epochs: usize,
}

impl CheckpointPolicy {
    pub fn new(t: &TrainConfig) -> CheckpointPolicy {
        CheckpointPolicy { every: t.checkpoint_every, keep: t.keep_checkpoints, epochs: t.epochs }
    }

    /// What to do once `epoch` epochs are done (0 = at initialisation, always saved), given the
    /// epochs that have checkpoints already.
    pub fn actions(&self, epoch: usize, existing: &[usize]) -> Vec<Action> {
        let save = epoch == 0 || epoch == self.epochs || (self.every > 0 && epoch.is_multiple_of(self.every));
        if !save {
            return vec![];
        }
        let mut out = vec![Action::Save];
        if !self.keep {
            out.extend(existing.iter().filter(|&&e| e != 0 && e != epoch).map(|&e| Action::Delete(e)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_at_init_every_n_and_at_the_end_and_keeps_init_and_latest() {
        let p = CheckpointPolicy { every: 3, keep: true, epochs: 7 };
        let saved: Vec<usize> = (0..=7).filter(|&e| p.actions(e, &[]).contains(&Action::Save)).collect();
        assert_eq!(saved, vec![0, 3, 6, 7]);
        let p = CheckpointPolicy { every: 0, keep: false, epochs: 4 };
        assert!(p.actions(2, &[0]).is_empty());
        assert_eq!(p.actions(4, &[0, 2, 4]), vec![Action::Save, Action::Delete(2)]);
    }
}

//! Where a run stands, as one type: a run's `summary.json`, a sweep point's `attempt.json` and
//! `silab sweep status` all say it with a [`RunState`]; a scheduler's job states (Slurm's, in
//! `crate::sweep::slurm`) are read into it.

use serde::{Deserialize, Serialize};

/// Where a run stands.
///
/// Serialized lowercase (`"pending"`, `"done"`, ...). `summary.json` has always spelled
/// [`RunState::Done`] `completed` (see [`summary_word`]); both words read as `Done`, so run
/// directories written by any silab version read back.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Never started.
    Pending,
    /// Waiting in a scheduler's queue.
    Queued,
    /// Started and not ended: running now, or interrupted without a chance to say so.
    Running,
    /// Every epoch is done.
    #[serde(alias = "completed")]
    Done,
    /// Stopped early: the loss or rho became NaN or infinite (`train.stop_on_nonfinite`).
    /// Nothing is left to do.
    Diverged,
    /// Stopped early once its regime was certain (`train.stop_when = "regime"`; `summary.json`
    /// holds the decision). Nothing is left to do.
    Decided,
    /// Ended with an error.
    Failed,
    /// Stopped from outside before it ended: cancelled, out of time, preempted, its node lost.
    /// Resuming it continues from its latest checkpoint.
    Killed,
}

impl RunState {
    /// The states `silab sweep status` reports, in the order of its counts. A diverged point is
    /// reported as done (nothing left to do), as is a decided one, and a killed one as failed (its detail says how):
    /// both need the same action as those.
    pub const REPORTED: [RunState; 5] =
        [RunState::Done, RunState::Running, RunState::Queued, RunState::Failed, RunState::Pending];

    /// The serialized name (`done`, `running`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Diverged => "diverged",
            RunState::Decided => "decided",
            RunState::Failed => "failed",
            RunState::Killed => "killed",
        }
    }

    /// Nothing is left to do: done, diverged, or stopped once its regime was decided.
    pub fn is_finished(self) -> bool {
        matches!(self, RunState::Done | RunState::Diverged | RunState::Decided)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `#[serde(with)]` for `summary.json`'s `status`: [`RunState::Done`] written as `completed`,
/// as every silab version has written it; reading accepts every name.
pub mod summary_word {
    use super::RunState;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(state: &RunState, s: S) -> Result<S::Ok, S::Error> {
        match state {
            RunState::Done => s.serialize_str("completed"),
            other => other.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RunState, D::Error> {
        RunState::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct InSummary {
        #[serde(with = "summary_word")]
        status: RunState,
    }

    #[test]
    fn names_round_trip_and_old_words_read() {
        for s in [
            RunState::Pending,
            RunState::Queued,
            RunState::Running,
            RunState::Done,
            RunState::Diverged,
            RunState::Decided,
            RunState::Failed,
            RunState::Killed,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
            assert_eq!(serde_json::from_str::<RunState>(&json).unwrap(), s);
        }
        // summary.json's word, and attempt.json's
        assert_eq!(serde_json::from_str::<RunState>("\"completed\"").unwrap(), RunState::Done);
        assert_eq!(serde_json::from_str::<RunState>("\"done\"").unwrap(), RunState::Done);
        let s: InSummary = serde_json::from_str(r#"{"status":"completed"}"#).unwrap();
        assert_eq!(s.status, RunState::Done);
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"status":"completed"}"#);
        let s = InSummary { status: RunState::Diverged };
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"status":"diverged"}"#);
        assert!(serde_json::from_str::<RunState>("\"exploded\"").is_err());
    }
}

//! Slurm's job states, typed: what `squeue`, `sacct` and `scontrol` print, read into a
//! [`SlurmState`], and what each means for the run of a task ([`SlurmState::run_state`]).

use crate::run::RunState;

/// A Slurm job state, as `squeue` (`%T`, or the short `%t`), `sacct` and `scontrol` print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlurmState {
    Pending,
    Configuring,
    Running,
    Completing,
    Suspended,
    Stopped,
    Signaling,
    StageOut,
    Resizing,
    Requeued,
    RequeueHold,
    RequeueFed,
    ResvDelHold,
    SpecialExit,
    Completed,
    Failed,
    OutOfMemory,
    BootFail,
    Cancelled,
    Timeout,
    Preempted,
    NodeFail,
    Deadline,
    Revoked,
    /// A state this silab does not know, as printed.
    Other(String),
}

/// Every known state: its full name and its short code.
const SLURM_STATES: [(SlurmState, &str, &str); 24] = [
    (SlurmState::Pending, "PENDING", "PD"),
    (SlurmState::Configuring, "CONFIGURING", "CF"),
    (SlurmState::Running, "RUNNING", "R"),
    (SlurmState::Completing, "COMPLETING", "CG"),
    (SlurmState::Suspended, "SUSPENDED", "S"),
    (SlurmState::Stopped, "STOPPED", "ST"),
    (SlurmState::Signaling, "SIGNALING", "SI"),
    (SlurmState::StageOut, "STAGE_OUT", "SO"),
    (SlurmState::Resizing, "RESIZING", "RS"),
    (SlurmState::Requeued, "REQUEUED", "RQ"),
    (SlurmState::RequeueHold, "REQUEUE_HOLD", "RH"),
    (SlurmState::RequeueFed, "REQUEUE_FED", "RF"),
    (SlurmState::ResvDelHold, "RESV_DEL_HOLD", "RD"),
    (SlurmState::SpecialExit, "SPECIAL_EXIT", "SE"),
    (SlurmState::Completed, "COMPLETED", "CD"),
    (SlurmState::Failed, "FAILED", "F"),
    (SlurmState::OutOfMemory, "OUT_OF_MEMORY", "OOM"),
    (SlurmState::BootFail, "BOOT_FAIL", "BF"),
    (SlurmState::Cancelled, "CANCELLED", "CA"),
    (SlurmState::Timeout, "TIMEOUT", "TO"),
    (SlurmState::Preempted, "PREEMPTED", "PR"),
    (SlurmState::NodeFail, "NODE_FAIL", "NF"),
    (SlurmState::Deadline, "DEADLINE", "DL"),
    (SlurmState::Revoked, "REVOKED", "RV"),
];

impl SlurmState {
    /// Read a state as Slurm prints it: a full name (`RUNNING`), a short code (`R`), or sacct's
    /// forms `CANCELLED by 1000` and `CANCELLED+` (a column cut short). Never fails: anything
    /// else is [`SlurmState::Other`].
    pub fn parse(text: &str) -> SlurmState {
        let word = text.split_whitespace().next().unwrap_or_default().trim_end_matches('+').to_ascii_uppercase();
        SLURM_STATES
            .iter()
            .find(|(_, name, code)| word == *name || word == *code)
            .map(|(s, _, _)| s.clone())
            .unwrap_or(SlurmState::Other(text.trim().to_string()))
    }

    /// The full name, as `squeue --format=%T` prints it.
    pub fn name(&self) -> &str {
        match self {
            SlurmState::Other(text) => text,
            known => SLURM_STATES.iter().find(|(s, _, _)| s == known).map_or("", |(_, name, _)| name),
        }
    }

    /// What the state means for the run of the task: waiting (queued), holding the point
    /// (running), ended (done, failed: by the task itself, killed: from outside). A state silab
    /// does not know counts as running, so that the point is not submitted twice.
    pub fn run_state(&self) -> RunState {
        use SlurmState::*;
        match self {
            Pending | Requeued | RequeueHold | RequeueFed | ResvDelHold => RunState::Queued,
            Configuring | Running | Completing | Suspended | Stopped | Signaling | StageOut | Resizing | Other(_) => {
                RunState::Running
            }
            Completed => RunState::Done,
            Failed | OutOfMemory | BootFail | SpecialExit => RunState::Failed,
            Cancelled | Timeout | Preempted | NodeFail | Deadline | Revoked => RunState::Killed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_states_parse_into_run_states() {
        let cases = [
            ("PENDING", SlurmState::Pending, RunState::Queued),
            ("PD", SlurmState::Pending, RunState::Queued),
            ("REQUEUED", SlurmState::Requeued, RunState::Queued),
            ("REQUEUE_HOLD", SlurmState::RequeueHold, RunState::Queued),
            ("RUNNING", SlurmState::Running, RunState::Running),
            ("COMPLETING", SlurmState::Completing, RunState::Running),
            ("COMPLETED", SlurmState::Completed, RunState::Done),
            ("FAILED", SlurmState::Failed, RunState::Failed),
            ("OUT_OF_MEMORY", SlurmState::OutOfMemory, RunState::Failed),
            ("CANCELLED", SlurmState::Cancelled, RunState::Killed),
            ("CANCELLED by 0", SlurmState::Cancelled, RunState::Killed),
            ("CANCELLED+", SlurmState::Cancelled, RunState::Killed),
            ("TIMEOUT", SlurmState::Timeout, RunState::Killed),
            ("NODE_FAIL", SlurmState::NodeFail, RunState::Killed),
            ("PREEMPTED", SlurmState::Preempted, RunState::Killed),
            ("  timeout ", SlurmState::Timeout, RunState::Killed),
        ];
        for (text, state, run) in cases {
            let s = SlurmState::parse(text);
            assert_eq!(s, state, "{text}");
            assert_eq!(s.run_state(), run, "{text}");
        }
        assert_eq!(SlurmState::parse("CANCELLED by 0").name(), "CANCELLED");
        for (s, name, code) in &SLURM_STATES {
            assert_eq!((&SlurmState::parse(name), &SlurmState::parse(code)), (s, s));
            assert_eq!(s.name(), *name);
        }
        let odd = SlurmState::parse("LAUNCH_FAILED_SOMEHOW");
        assert_eq!(odd, SlurmState::Other("LAUNCH_FAILED_SOMEHOW".into()));
        assert_eq!((odd.name(), odd.run_state()), ("LAUNCH_FAILED_SOMEHOW", RunState::Running));
        assert_eq!(SlurmState::parse(""), SlurmState::Other(String::new()));
    }
}

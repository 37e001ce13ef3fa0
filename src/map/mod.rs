//! The regime map of a network (`silab map`): where along the ELR axis training on the sphere
//! converges, settles into a chaotic equilibrium or diverges, found by bisection on log-ELR
//! instead of a dense grid.
//!
//! The search is a pure function of what has been observed ([`plan`]): from the runs so far
//! (ELR, seed, regime) it says which runs come next, or that the map is done. Each call's runs
//! are one *round*, run in parallel; [`exec`] runs the rounds as ordinary sweeps (local worker
//! processes or Slurm), so a map resumes like a sweep: rerunning it re-plans from the finished
//! runs and continues the round that was interrupted.
//!
//! The search, for an ELR range `[lo, hi]`:
//! 1. an initial grid of `initial` ELRs, evenly spaced on log-ELR, including both ends; its lower
//!    end runs only when no other ELR of the grid converges (it only tells whether convergence
//!    lies in the range, and the smallest ELR is the slowest run to decide);
//! 2. each ELR's regime is the strict majority of its seeds' regimes (an ELR whose seeds tie
//!    gets one more seed);
//! 3. sorted by ELR, the 1→2 bracket is the pair around the first ELR whose regime is above
//!    convergence, the 2→3 bracket the pair around the first ELR in divergence; while a bracket
//!    spans more than `factor`, its geometric midpoint is run next;
//! 4. once a bracket spans at most `factor`, each of its two ELRs needs `seeds` (≥ 2) seeds, so
//!    that no boundary rests on a single run.
//!
//! A boundary with no bracket is reported as outside the range ("no divergence found in
//! range"). Regimes out of order (a chaotic ELR below a converging one) are reported, not
//! hidden: the brackets are those of the first crossings.

pub mod exec;
pub mod figure;
pub mod schedule;

use crate::analysis::Regime;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// How a map searches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapSpec {
    /// The ELR range.
    pub lo: f64,
    pub hi: f64,
    /// Refine each bracket until its ends are at most this factor apart (> 1).
    pub factor: f64,
    /// ELRs of the initial grid, both ends included (≥ 2; the lower end runs only when no
    /// other ELR of the grid converges).
    pub initial: usize,
    /// Seeds at each ELR that decides a boundary (≥ 2).
    pub seeds: usize,
    /// Instead of bisecting: a dense grid of this many ELRs per decade over the range (one
    /// seed each), e.g. the reference a map is compared with. 0 = bisection.
    pub grid_per_decade: usize,
}

impl Default for MapSpec {
    fn default() -> Self {
        MapSpec { lo: 1e-5, hi: 1.0, factor: 1.5, initial: 3, seeds: 2, grid_per_decade: 0 }
    }
}

impl MapSpec {
    /// Each bad value named by its option.
    pub fn validate(&self) -> Result<()> {
        if !(self.lo > 0.0 && self.lo.is_finite() && self.hi.is_finite() && self.hi > self.lo) {
            bail!("--lo {} --hi {}: the ELR range needs 0 < lo < hi", self.lo, self.hi);
        }
        if !(self.factor > 1.0 && self.factor.is_finite()) {
            bail!("--factor {}: must be > 1 (the ratio of a refined bracket's ends)", self.factor);
        }
        if self.initial < 2 {
            bail!("--initial {}: the initial grid needs both ends of the range (>= 2)", self.initial);
        }
        if !(2..=9).contains(&self.seeds) {
            bail!("--seeds {}: must be in 2..=9 (a boundary rests on at least two seeds)", self.seeds);
        }
        if self.grid_per_decade > 100 {
            bail!("--grid {}: at most 100 ELRs per decade", self.grid_per_decade);
        }
        Ok(())
    }
}

/// ELRs as the map writes them: 4 significant digits, so that the same point plans, prints and
/// hashes the same in every round and after a resume.
pub fn round_elr(x: f64) -> f64 {
    format!("{x:.3e}").parse().unwrap()
}

/// `n` ELRs evenly spaced on log-ELR over `[lo, hi]`, both ends included.
pub fn log_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = if n == 1 { 0.0 } else { i as f64 / (n - 1) as f64 };
            round_elr(lo * (hi / lo).powf(t))
        })
        .collect()
}

/// One finished run of the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub elr: f64,
    /// The seed's index in the map (0, 1, ...), not the config's seed.
    pub seed: usize,
    pub regime: Regime,
}

/// A boundary between two regimes as found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum Boundary {
    /// Between the ELRs `lo` (the lower regime) and `hi` (a higher one); `estimate` is their
    /// geometric mean.
    Bracketed { lo: f64, hi: f64, estimate: f64 },
    /// Every ELR of the range is above it (e.g. no convergence found in range).
    BelowRange,
    /// Every ELR of the range is below it (e.g. no divergence found in range).
    AboveRange,
}

impl Boundary {
    /// `between 0.003 and 0.004 (~0.0035)`, `below the range`, `above the range`.
    pub fn describe(&self, what_above: &str, what_below: &str) -> String {
        use crate::numfmt::num;
        match self {
            Boundary::Bracketed { lo, hi, estimate } => {
                format!("between {} and {} (~{})", num(*lo), num(*hi), crate::numfmt::num_sig(*estimate, 3))
            }
            Boundary::BelowRange => format!("below the range: no {what_below} found in range"),
            Boundary::AboveRange => format!("above the range: no {what_above} found in range"),
        }
    }

    pub fn estimate(&self) -> Option<f64> {
        match self {
            Boundary::Bracketed { estimate, .. } => Some(*estimate),
            _ => None,
        }
    }
}

/// The regime of each ELR observed: the strict majority of its seeds (None on a tie).
pub fn verdicts(obs: &[Observation]) -> Vec<(f64, Option<Regime>, usize)> {
    let mut elrs: Vec<f64> = obs.iter().map(|o| o.elr).collect();
    elrs.sort_by(f64::total_cmp);
    elrs.dedup();
    elrs.into_iter()
        .map(|e| {
            let rs: Vec<Regime> = obs.iter().filter(|o| o.elr == e).map(|o| o.regime).collect();
            let top = [Regime::Convergence, Regime::Chaotic, Regime::Divergence]
                .into_iter()
                .find(|r| 2 * rs.iter().filter(|x| *x == r).count() > rs.len());
            (e, top, rs.len())
        })
        .collect()
}

/// Where the map stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapState {
    /// Each ELR observed, its regime (None: its seeds tie) and its number of seeds.
    pub per_elr: Vec<(f64, Option<Regime>, usize)>,
    pub convergence_chaotic: Boundary,
    pub chaotic_divergence: Boundary,
    /// Do the ELRs' regimes rise with ELR (convergence, chaotic, divergence)?
    pub ordered: bool,
}

/// The brackets of the ELRs decided so far.
pub fn state(obs: &[Observation]) -> MapState {
    let per_elr = verdicts(obs);
    let decided: Vec<(f64, Regime)> = per_elr.iter().filter_map(|(e, r, _)| r.map(|r| (*e, r))).collect();
    let bracket = |first_above: Option<usize>| match first_above {
        None => Boundary::AboveRange,
        Some(0) => Boundary::BelowRange,
        Some(k) => {
            let (lo, hi) = (decided[k - 1].0, decided[k].0);
            Boundary::Bracketed { lo, hi, estimate: round_elr((lo * hi).sqrt()) }
        }
    };
    let first = |above: Regime| decided.iter().position(|(_, r)| *r >= above);
    MapState {
        convergence_chaotic: bracket(first(Regime::Chaotic)),
        chaotic_divergence: bracket(first(Regime::Divergence)),
        ordered: decided.windows(2).all(|w| w[0].1 <= w[1].1),
        per_elr,
    }
}

/// The next round: the runs `(elr, seed index)` to make, empty when the map is done.
pub fn plan(spec: &MapSpec, obs: &[Observation]) -> Vec<(f64, usize)> {
    let have = |e: f64, s: usize| obs.iter().any(|o| o.elr == e && o.seed == s);
    if spec.grid_per_decade > 0 {
        let n = ((spec.hi / spec.lo).log10() * spec.grid_per_decade as f64).round() as usize + 1;
        return log_grid(spec.lo, spec.hi, n.max(2)).into_iter().filter(|&e| !have(e, 0)).map(|e| (e, 0)).collect();
    }
    // the initial grid without its lower end: that end only says whether convergence lies in
    // the range, which a converging ELR above it says already (and a run at the smallest ELR is
    // the slowest to decide); it runs once no ELR of the grid converges
    let grid = log_grid(spec.lo, spec.hi, spec.initial);
    let first: Vec<(f64, usize)> = grid[1..].iter().filter(|&&e| !have(e, 0)).map(|&e| (e, 0)).collect();
    if !first.is_empty() {
        return first;
    }
    let st = state(obs);
    let converges = st.per_elr.iter().any(|p| p.1 == Some(Regime::Convergence));
    if !converges && !have(grid[0], 0) {
        return vec![(grid[0], 0)];
    }
    let mut next: Vec<(f64, usize)> = vec![];
    // a run already made is never planned again (a tied ELR can also be a bracket's midpoint)
    let mut add = |p: (f64, usize)| {
        if !next.contains(&p) && !have(p.0, p.1) {
            next.push(p);
        }
    };
    // ties first: an ELR whose seeds disagree without a majority gets another seed
    for (e, r, n) in &st.per_elr {
        if r.is_none() && *n < 9 {
            add((*e, *n));
        }
    }
    for b in [&st.convergence_chaotic, &st.chaotic_divergence] {
        if let Boundary::Bracketed { lo, hi, .. } = *b {
            let mid = round_elr((lo * hi).sqrt());
            let tied = st.per_elr.iter().any(|p| p.0 == mid && p.1.is_none());
            if tied {
                // the midpoint is an ELR whose seeds tie: its next seed (planned above) decides it
            } else if hi / lo > spec.factor && mid > lo && mid < hi {
                add((mid, 0));
            } else {
                // refined: both ends rest on `seeds` seeds
                for e in [lo, hi] {
                    let n = st.per_elr.iter().find(|p| p.0 == e).map_or(0, |p| p.2);
                    for s in n..spec.seeds {
                        add((e, s));
                    }
                }
            }
        }
    }
    next
}

/// One run of the map, as the table lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MapRun {
    pub round: usize,
    pub elr: f64,
    /// Seed index in the map (0, 1, ...).
    pub seed_index: usize,
    pub seed: u64,
    pub regime: Regime,
    pub decided_at_epoch: Option<usize>,
    pub statistic: String,
    pub epochs: usize,
    pub train_loss: f64,
    pub test_acc: f64,
    /// Relative to the map directory.
    pub dir: String,
}

/// `summary.json` of a map.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MapSummary {
    pub spec: MapSpec,
    /// `true` once the search has nothing left to run.
    pub done: bool,
    pub rounds: usize,
    pub runs: usize,
    /// Epochs trained over all runs, and what the same runs would have cost at full length.
    pub epochs_spent: usize,
    pub epochs_full_length: usize,
    pub convergence_chaotic: Boundary,
    pub chaotic_divergence: Boundary,
    pub ordered: bool,
    /// Each ELR, its majority regime (None: its seeds tie) and its number of seeds.
    pub per_elr: Vec<(f64, Option<Regime>, usize)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic network: convergence below `b1`, chaotic up to `b2`, divergence above; with
    /// `flip`, seed 1 reads the ELR just above `b1` as convergence (noise at the boundary).
    fn truth(e: f64, s: usize, b1: f64, b2: f64, flip: bool) -> Regime {
        if e < b1 || (flip && s == 1 && e < b1 * 1.2) {
            Regime::Convergence
        } else if e < b2 {
            Regime::Chaotic
        } else {
            Regime::Divergence
        }
    }

    fn run_map(spec: &MapSpec, b1: f64, b2: f64, flip: bool) -> (MapState, usize, usize) {
        let mut obs: Vec<Observation> = vec![];
        let mut rounds = 0;
        loop {
            let next = plan(spec, &obs);
            if next.is_empty() {
                break;
            }
            rounds += 1;
            assert!(rounds < 50, "the map does not end");
            for (e, s) in next {
                obs.push(Observation { elr: e, seed: s, regime: truth(e, s, b1, b2, flip) });
            }
        }
        (state(&obs), obs.len(), rounds)
    }

    fn within(b: &Boundary, truth: f64, factor: f64) -> bool {
        match b {
            Boundary::Bracketed { lo, hi, .. } => *lo < truth && truth <= *hi && hi / lo <= factor,
            _ => false,
        }
    }

    #[test]
    fn bisection_brackets_both_known_boundaries_within_the_factor() {
        let spec = MapSpec::default();
        for (b1, b2) in [(4.2e-3, 3.3e-2), (2e-4, 0.5), (1.1e-5, 2e-5), (0.01, 0.011)] {
            let (st, runs, rounds) = run_map(&spec, b1, b2, false);
            assert!(within(&st.convergence_chaotic, b1, 1.5), "{b1}: {:?}", st.convergence_chaotic);
            assert!(within(&st.chaotic_divergence, b2, 1.5), "{b2}: {:?}", st.chaotic_divergence);
            assert!(st.ordered);
            // 3 initial + ~6 halvings per boundary + the second seeds at the 4 ends
            assert!(runs <= 25, "{runs} runs");
            assert!(rounds <= 12, "{rounds} rounds");
        }
    }

    #[test]
    fn every_end_of_a_refined_bracket_has_two_seeds() {
        let spec = MapSpec::default();
        let mut obs = vec![];
        loop {
            let next = plan(&spec, &obs);
            if next.is_empty() {
                break;
            }
            for (e, s) in next {
                obs.push(Observation { elr: e, seed: s, regime: truth(e, s, 4.2e-3, 3.3e-2, false) });
            }
        }
        let st = state(&obs);
        for b in [&st.convergence_chaotic, &st.chaotic_divergence] {
            let Boundary::Bracketed { lo, hi, .. } = *b else { panic!("{b:?}") };
            for e in [lo, hi] {
                assert!(obs.iter().filter(|o| o.elr == e).count() >= 2, "{e}");
            }
        }
    }

    #[test]
    fn a_seed_that_disagrees_at_a_boundary_gets_a_third_and_the_majority_rules() {
        let spec = MapSpec::default();
        let (st, _, _) = run_map(&spec, 4.2e-3, 3.3e-2, true);
        // the ends of the 1->2 bracket are decided by a strict majority of their seeds
        for (e, r, n) in &st.per_elr {
            assert!(r.is_some(), "{e} left tied with {n} seeds");
        }
        assert!(matches!(st.convergence_chaotic, Boundary::Bracketed { .. }));
        assert!(within(&st.chaotic_divergence, 3.3e-2, 1.5));
    }

    #[test]
    fn boundaries_outside_the_range_are_said_so() {
        let spec = MapSpec { lo: 1e-3, hi: 1e-1, ..Default::default() };
        // everything diverges above 10: no divergence in range
        let (st, _, _) = run_map(&spec, 1e-2, 10.0, false);
        assert_eq!(st.chaotic_divergence, Boundary::AboveRange);
        assert!(within(&st.convergence_chaotic, 1e-2, 1.5));
        // everything is chaotic or worse: no convergence in range
        let (st, _, _) = run_map(&spec, 1e-4, 5e-2, false);
        assert_eq!(st.convergence_chaotic, Boundary::BelowRange);
        assert!(within(&st.chaotic_divergence, 5e-2, 1.5));
    }

    #[test]
    fn the_lower_end_runs_only_when_nothing_above_it_converges() {
        let spec = MapSpec::default();
        // the middle converges: the lower end (1e-5) never runs
        let first = plan(&spec, &[]);
        assert_eq!(first, vec![(3.162e-3, 0), (1.0, 0)]);
        let (st, _, _) = run_map(&spec, 4.2e-3, 3.3e-2, false);
        assert!(!st.per_elr.iter().any(|p| p.0 == 1e-5), "{:?}", st.per_elr);
        // the middle is already chaotic: the lower end runs, and the boundary is found below
        let (st, _, _) = run_map(&spec, 2e-4, 3.3e-2, false);
        assert!(st.per_elr.iter().any(|p| p.0 == 1e-5));
        assert!(within(&st.convergence_chaotic, 2e-4, 1.5), "{:?}", st.convergence_chaotic);
    }

    #[test]
    fn no_run_is_planned_twice_when_a_tied_elr_is_a_bracket_midpoint() {
        // 0.3924 = sqrt(0.2738 * 0.5623): its two seeds tie, so the 2->3 bracket skips it and its
        // midpoint is 0.3924 again; only its third seed runs
        let o = |elr, seed, regime| Observation { elr, seed, regime };
        let obs = vec![
            o(0.1333, 0, Regime::Chaotic),
            o(0.2738, 0, Regime::Chaotic),
            o(0.2738, 1, Regime::Chaotic),
            o(0.3924, 0, Regime::Chaotic),
            o(0.3924, 1, Regime::Divergence),
            o(0.5623, 0, Regime::Divergence),
            o(0.5623, 1, Regime::Divergence),
        ];
        let spec = MapSpec { lo: 0.1333, hi: 0.5623, initial: 2, ..Default::default() };
        let next = plan(&spec, &obs);
        assert_eq!(next, vec![(0.3924, 2)]);
        for (e, s) in &next {
            assert!(!obs.iter().any(|x| x.elr == *e && x.seed == *s));
        }
    }

    #[test]
    fn a_dense_grid_is_one_round_of_every_elr() {
        let spec = MapSpec { grid_per_decade: 4, ..Default::default() };
        let (st, runs, rounds) = run_map(&spec, 4.2e-3, 3.3e-2, false);
        assert_eq!((runs, rounds), (21, 1));
        assert!(matches!(st.convergence_chaotic, Boundary::Bracketed { .. }));
    }

    #[test]
    fn out_of_order_regimes_are_reported() {
        let obs: Vec<Observation> = [(1e-3, Regime::Chaotic), (1e-2, Regime::Convergence), (1e-1, Regime::Divergence)]
            .iter()
            .map(|&(elr, regime)| Observation { elr, seed: 0, regime })
            .collect();
        let st = state(&obs);
        assert!(!st.ordered);
        assert_eq!(st.convergence_chaotic, Boundary::BelowRange);
    }

    #[test]
    fn bad_options_are_named() {
        let bad = |f: &dyn Fn(&mut MapSpec)| {
            let mut s = MapSpec::default();
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert!(bad(&|s| s.lo = 0.0).contains("--lo"));
        assert!(bad(&|s| s.factor = 1.0).contains("--factor"));
        assert!(bad(&|s| s.seeds = 1).contains("--seeds"));
        assert!(bad(&|s| s.initial = 1).contains("--initial"));
    }
}

//! Running a map: each round of [`super::plan`] is an ordinary sweep in `DIR/rounds/rNN`
//! (axes `optim.elr`, `seed` and `model.last_layer_seed`, zipped), run by the sweep executor
//! (local worker processes, or a Slurm array job), so its runs are ordinary run directories and
//! a killed map resumes where it stopped. The map directory also holds `map.json` (what was
//! asked: the base config and the [`MapSpec`]; a rerun with other options is refused),
//! `table.csv` / `table.parquet` (one row per run), `summary.json` and the figure `fig_map`.

use super::{MapRun, MapSpec, MapState, MapSummary, Observation, plan, state};
use crate::analysis::{JumpParams, RegimeParams, analyze_run};
use crate::config::{OptimMode, RunConfig};
use crate::progress::Progress;
use crate::run::{RunState, Summary};
use crate::schema::MAP;
use crate::store::{self, RunDir, SweepDir};
use crate::sweep::table::{Column, Table};
use crate::sweep::{self, Executor, Launched, Manifest, SweepSpec, point_state};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The most rounds a map runs (a bisection from 3 ELRs over 5 decades to a factor 1.5 needs ~8).
pub const MAX_ROUNDS: usize = 40;

/// `map.json`: what the map was asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapRequest {
    pub spec: MapSpec,
    /// The base run config (TOML), with `train.stop_when` as the map runs it.
    pub base: String,
}

/// What [`run`] ended with.
pub enum MapOutcome {
    /// The search is done (or stopped at [`MAX_ROUNDS`]): its summary.
    Done(MapSummary),
    /// A round was submitted to Slurm (or is still queued): rerun the map once it has ended.
    Waiting { round: usize, launched: Option<Launched> },
}

/// The map directory's files.
pub struct MapDir {
    pub root: PathBuf,
}

impl MapDir {
    pub fn new(root: impl Into<PathBuf>) -> MapDir {
        MapDir { root: root.into() }
    }
    pub fn request(&self) -> PathBuf {
        self.root.join("map.json")
    }
    pub fn round(&self, r: usize) -> SweepDir {
        SweepDir::new(self.root.join("rounds").join(format!("r{r:02}")))
    }
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    pub fn table(&self, ext: &str) -> PathBuf {
        self.root.join("table").with_extension(ext)
    }
    pub fn figure(&self) -> PathBuf {
        self.root.join("fig_map")
    }
    /// The rounds written so far, in order.
    pub fn rounds(&self) -> Vec<SweepDir> {
        (0..).map(|r| self.round(r)).take_while(|sd| sd.exists()).collect()
    }
}

/// The base config of a map: `base` (TOML) with `train.stop_when = "regime"` unless
/// `full_length`, checked to be a sphere run.
pub fn base_config(base: &str, origin: &str, sets: &[String], full_length: bool) -> Result<String> {
    let mut sets = sets.to_vec();
    sets.push(format!("train.stop_when=\"{}\"", if full_length { "never" } else { "regime" }));
    let cfg = RunConfig::from_parts(Some((base, origin)), &sets)?;
    if cfg.optim.mode != OptimMode::Sphere {
        bail!(
            "{origin}: a regime map trains on the sphere at fixed ELRs: set optim.mode = \"sphere\" (got \"{}\")",
            cfg.optim.mode.name()
        );
    }
    Ok(cfg.to_toml())
}

/// The sweep of one round: its runs `(elr, seed index)`.
fn round_spec(base: &str, round: usize, runs: &[(f64, usize)]) -> Result<SweepSpec> {
    let cfg = RunConfig::from_parts(Some((base, "map base")), &[])?;
    let base_t: toml::Table = base.parse().context("the map's base config")?;
    let f = |v: f64| toml::Value::Float(v);
    let i = |v: u64| toml::Value::Integer(v as i64);
    Ok(SweepSpec {
        name: format!("map-r{round:02}"),
        base: base_t,
        axes: vec![
            ("optim.elr".into(), runs.iter().map(|r| f(r.0)).collect()),
            ("seed".into(), runs.iter().map(|r| i(cfg.seed + r.1 as u64)).collect()),
            // each seed with its own draw of the frozen classifier (a hidden source of variance)
            ("model.last_layer_seed".into(), runs.iter().map(|r| i(cfg.model.last_layer_seed + r.1 as u64)).collect()),
        ],
        // (the zipped axis `seed` gives each point its seed; `seeds` is the base's, as parsed)
        seeds: vec![cfg.seed],
        zip: vec!["optim.elr".into(), "seed".into(), "model.last_layer_seed".into()],
    })
}

/// The finished runs of the rounds so far (a round not finished yet: its finished runs only).
pub fn runs(md: &MapDir) -> Result<Vec<MapRun>> {
    let base_seed = match store::read_json::<MapRequest>(&md.request()) {
        Ok(r) => RunConfig::from_parts(Some((&r.base, "map.json")), &[])?.seed,
        Err(_) => 0,
    };
    let (jp, rp) = (JumpParams::default(), RegimeParams::default());
    let mut out = vec![];
    for (round, sd) in md.rounds().iter().enumerate() {
        let m = Manifest::read(sd)?;
        for p in &m.points {
            if !point_state(sd, p).is_finished() {
                continue;
            }
            let rd = p.run_dir(sd);
            let a = analyze_run(&rd.root, &jp, &rp)?;
            if !a.regime.regime.classified() {
                bail!(
                    "{}: the run is not classified ({}): a map needs train.epochs >= {} and metrics.train_eval = true",
                    rd.root.display(),
                    a.regime.regime.name(),
                    rp.min_epochs
                );
            }
            let s = Summary::read(&rd)?;
            let dir = rd.root.strip_prefix(&md.root).unwrap_or(&rd.root).display().to_string();
            out.push(MapRun {
                round,
                elr: a.elr,
                seed_index: (p.seed.saturating_sub(base_seed)) as usize,
                seed: p.seed,
                regime: a.regime.regime,
                decided_at_epoch: a.decision.as_ref().map(|d| d.decided_at_epoch),
                statistic: a.decision.as_ref().map_or("end of run".into(), |d| {
                    format!("{} = {}", d.statistic, crate::numfmt::num_sig(d.value, 3))
                }),
                epochs: s.epochs_done,
                train_loss: a.final_train_loss,
                test_acc: a.final_test_acc,
                dir,
            });
        }
    }
    Ok(out)
}

fn observations(runs: &[MapRun]) -> Vec<Observation> {
    runs.iter().map(|r| Observation { elr: r.elr, seed: r.seed_index, regime: r.regime }).collect()
}

/// Run (or resume) the map in `dir`: rounds until [`plan`] has nothing left, each launched on
/// `executor` with the `silab` binary `exe`. Writes the table, summary and figure after every
/// round.
pub fn run(
    request: &MapRequest,
    dir: &Path,
    executor: &Executor,
    exe: &Path,
    progress: &mut dyn Progress,
) -> Result<MapOutcome> {
    request.spec.validate()?;
    let md = MapDir::new(dir);
    if md.request().exists() {
        let old: MapRequest = store::read_json(&md.request())?;
        if old != *request {
            bail!(
                "{} holds a map of another base config or other options (map.json differs); choose another --out",
                dir.display()
            );
        }
    } else {
        store::create_dir(&md.root)?;
        store::write_json(&md.request(), request)?;
    }
    for round in 0..MAX_ROUNDS {
        let done_runs = runs(&md)?;
        let sd = md.round(round);
        // a round already written is run (resumed) as it is; a new one is planned from the
        // runs of the rounds before it
        let todo: Vec<(f64, usize)> = if sd.exists() {
            let m = Manifest::read(&sd)?;
            if m.points.iter().all(|p| point_state(&sd, p).is_finished()) {
                continue;
            }
            vec![]
        } else {
            let next = plan(&request.spec, &observations(&done_runs));
            if next.is_empty() {
                let s = write_outputs(&md, request, &done_runs, round, true)?;
                return Ok(MapOutcome::Done(s));
            }
            next
        };
        let spec = if sd.exists() {
            SweepSpec::from_file(&sd.spec(), &[])?
        } else {
            let st = state(&observations(&done_runs));
            progress.line(&format!("round {round}: {}", describe_round(&st, &todo)));
            round_spec(&request.base, round, &todo)?
        };
        match sweep::launch(&spec, &sd.root, executor, exe, progress)? {
            Launched::Ran { report, .. } => {
                if !report.failed.is_empty() || !report.busy.is_empty() {
                    let logs: Vec<String> =
                        report.failed.iter().map(|(i, log)| format!("run {i}: {}", log.display())).collect();
                    bail!(
                        "round {round}: {} run(s) failed ({}) and {} are run by other processes; rerun the map to retry \
                         them (`silab sweep status {}` tells more)",
                        report.failed.len(),
                        logs.join("; "),
                        report.busy.len(),
                        sd.root.display()
                    );
                }
            }
            other => {
                write_outputs(&md, request, &runs(&md)?, round + 1, false)?;
                return Ok(MapOutcome::Waiting { round, launched: Some(other) });
            }
        }
        write_outputs(&md, request, &runs(&md)?, round + 1, false)?;
        store::failpoint(&format!("map-round:{round}"));
    }
    let all = runs(&md)?;
    progress.warn(&format!("the map stopped after {MAX_ROUNDS} rounds"));
    Ok(MapOutcome::Done(write_outputs(&md, request, &all, MAX_ROUNDS, true)?))
}

/// `round 3: 2 runs (bisect 1->2 in [0.003, 0.01], 2->3 in ...)`.
fn describe_round(st: &MapState, todo: &[(f64, usize)]) -> String {
    let elrs: Vec<String> = todo
        .iter()
        .map(|(e, s)| {
            format!("{}{}", crate::numfmt::num(*e), if *s > 0 { format!(" (seed {s})") } else { String::new() })
        })
        .collect();
    if st.per_elr.is_empty() {
        return format!("{} run(s) at ELR {}: the initial grid", todo.len(), elrs.join(", "));
    }
    format!(
        "{} run(s) at ELR {}; 1->2 {}; 2->3 {}",
        todo.len(),
        elrs.join(", "),
        st.convergence_chaotic.describe("chaotic equilibrium", "convergence"),
        st.chaotic_divergence.describe("divergence", "chaotic equilibrium or convergence")
    )
}

/// The table, the summary and the figure of the runs so far.
fn write_outputs(md: &MapDir, request: &MapRequest, runs: &[MapRun], rounds: usize, done: bool) -> Result<MapSummary> {
    let cfg = RunConfig::from_parts(Some((&request.base, "map.json")), &[])?;
    let st = state(&observations(runs));
    let s = MapSummary {
        spec: request.spec.clone(),
        done,
        rounds,
        runs: runs.len(),
        epochs_spent: runs.iter().map(|r| r.epochs).sum(),
        epochs_full_length: runs.len() * cfg.train.epochs,
        convergence_chaotic: st.convergence_chaotic.clone(),
        chaotic_divergence: st.chaotic_divergence.clone(),
        ordered: st.ordered,
        per_elr: st.per_elr.clone(),
    };
    store::write_json(&md.summary(), &s)?;
    let t = table(runs);
    store::write_atomic(&md.table("csv"), &t.to_csv()?)?;
    store::write_atomic(&md.table("parquet"), &t.to_parquet()?)?;
    if !runs.is_empty() {
        let title = if request.spec.grid_per_decade > 0 { "dense grid" } else { "regime map" };
        super::figure::map_figure(runs, &s, cfg.train.epochs, title, &md.figure())?;
    }
    Ok(s)
}

/// One row per run, columns [`MAP`].
pub fn table(runs: &[MapRun]) -> Table {
    let col = |name: &str, c: Column| {
        debug_assert!(MAP.iter().any(|m| m.name == name), "{name} is not in schema::MAP");
        (name.to_string(), c)
    };
    Table {
        columns: vec![
            col("round", Column::Int(runs.iter().map(|r| Some(r.round as i64)).collect())),
            col("elr", Column::Float(runs.iter().map(|r| Some(r.elr)).collect())),
            col("seed", Column::Int(runs.iter().map(|r| Some(r.seed as i64)).collect())),
            col("regime", Column::Str(runs.iter().map(|r| Some(r.regime.name().to_string())).collect())),
            col("decided_at_epoch", Column::Int(runs.iter().map(|r| r.decided_at_epoch.map(|e| e as i64)).collect())),
            col("statistic", Column::Str(runs.iter().map(|r| Some(r.statistic.clone())).collect())),
            col("epochs", Column::Int(runs.iter().map(|r| Some(r.epochs as i64)).collect())),
            col(
                "train_loss",
                Column::Float(runs.iter().map(|r| Some(r.train_loss).filter(|x| x.is_finite())).collect()),
            ),
            col("test_acc", Column::Float(runs.iter().map(|r| Some(r.test_acc).filter(|x| x.is_finite())).collect())),
            col("dir", Column::Str(runs.iter().map(|r| Some(r.dir.clone())).collect())),
        ],
    }
}

/// The run directories of a map (for `silab analyze`-like tools), with their states.
pub fn run_dirs(md: &MapDir) -> Result<Vec<(RunDir, RunState)>> {
    let mut out = vec![];
    for sd in md.rounds() {
        let m = Manifest::read(&sd)?;
        for p in &m.points {
            out.push((p.run_dir(&sd), point_state(&sd, p)));
        }
    }
    Ok(out)
}

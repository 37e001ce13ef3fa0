//! The tidy-table schema: every column silab writes, once, with its type and meaning.
//!
//! This registry drives `metrics.csv` ([`METRICS`]), the sharpness rows ([`SHARPNESS`]), the
//! landscape scans ([`SCAN`]), the types of the sweep tables' Parquet columns ([`kind_of`]), the
//! one typed reader of run records (`store::Table`), and the README's column tables (a test
//! checks the README against it). The fixed `metrics.csv` columns also have typed identifiers
//! ([`col`]), generated with the table, so a misspelled column does not compile.
//! A CSV field is written by [`Kind::format`]: integers as integers, text as is, floats in full
//! precision (`{:e}`), an unmeasured float (NaN) as an empty field.

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Text,
}

impl Kind {
    /// The CSV field of a numeric value in a column of this kind (`Text` columns are written by
    /// their owners as strings).
    pub fn format(self, v: f64) -> String {
        match self {
            Kind::Int => format!("{}", v as i64),
            _ if v.is_nan() => String::new(),
            _ => format!("{v:e}"),
        }
    }
}

/// One column: name, type, meaning (the README's table text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub meaning: &'static str,
}

const fn int(name: &'static str, meaning: &'static str) -> Column {
    Column { name, kind: Kind::Int, meaning }
}
const fn float(name: &'static str, meaning: &'static str) -> Column {
    Column { name, kind: Kind::Float, meaning }
}
const fn text(name: &'static str, meaning: &'static str) -> Column {
    Column { name, kind: Kind::Text, meaning }
}

/// A fixed column of `metrics.csv`: its position in [`METRICS`]. The constants of [`col`] are
/// the only values (generated with the table), so a misspelled column is a compile error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MetricCol(usize);

impl MetricCol {
    /// Its position in [`METRICS`] (and in a row of [`METRICS`]' width).
    pub const fn index(self) -> usize {
        self.0
    }
    /// Its name, as in the CSV header.
    pub const fn name(self) -> &'static str {
        METRICS[self.0].name
    }
}

/// Defines [`METRICS`] and, for each of its columns, a [`MetricCol`] constant in [`col`] (the
/// upper-case name), both from one list.
macro_rules! metrics_columns {
    ($($id:ident = $ctor:ident($name:literal, $meaning:literal),)*) => {
        /// The fixed columns of `metrics.csv`, in order. With `metrics.layers`, per-tensor columns
        /// [`LAYER_NORM_PREFIX`]`<tensor>` then [`LAYER_ELR_PREFIX`]`<tensor>` follow, then per SI group
        /// [`GROUP_RHO_PREFIX`]`<group>` then [`LAYER_ELR_PREFIX`]`<group>`, then per SI tensor and group
        /// [`ANGLE_PREFIX`] and [`ANGLE_MEAN_PREFIX`]. Typed identifiers: [`col`].
        pub const METRICS: &[Column] = &[$($ctor($name, $meaning),)*];

        /// The fixed columns of `metrics.csv` as typed identifiers (one per [`METRICS`] entry).
        pub mod col {
            use super::MetricCol;
            metrics_columns!(@consts 0usize; $($id $name $meaning;)*);
        }
    };
    (@consts $i:expr; $id:ident $name:literal $meaning:literal; $($rest:tt)*) => {
        #[doc = concat!("`", $name, "`: ", $meaning)]
        pub const $id: MetricCol = MetricCol($i);
        metrics_columns!(@consts $i + 1usize; $($rest)*);
    };
    (@consts $i:expr;) => {};
}

metrics_columns! {
    EPOCH = int("epoch", "epochs completed at this row (0 = at initialisation)"),
    STEP = int("step", "optimizer steps completed at this row"),
    ROW = text("row", "`epoch` (end of an epoch: every column) or `step` (every `train.log_every` steps: cheap columns only)"),
    LR = float("lr", "learning rate of the last step; sphere mode: the SI group's `ELR * rho0^p` (p = 2 for SGD, 1 for Adam, AdamW, Lion)"),
    TRAIN_LOSS = float("train_loss", "loss over the whole training set, BN in train mode (batch statistics, fixed batches of `train.batch_size`)"),
    TRAIN_ACC = float("train_acc", "accuracy over the whole training set, same pass as train_loss"),
    TEST_LOSS = float("test_loss", "loss over the test set, BN in eval mode (running statistics)"),
    TEST_ACC = float("test_acc", "accuracy over the test set, BN in eval mode"),
    BATCH_LOSS = float("batch_loss", "mean minibatch loss of the steps since the previous row (epoch rows: of the whole epoch)"),
    RHO = float("rho", "norm of the SI group, rho = ||w_SI||"),
    ELR = float("elr", "effective learning rate lr / rho^p, p = 2 for SGD, 1 for Adam, AdamW, Lion (sphere mode: the configured ELR)"),
    GRAD_NORM = float("grad_norm", "mean minibatch gradient norm of the SI group, mean of ||g_SI||"),
    EFF_GRAD_NORM = float("eff_grad_norm", "effective gradient norm, mean of rho * ||g_SI|| over the same minibatches"),
    FULL_GRAD_NORM = float("full_grad_norm", "norm of the mean gradient of the SI group over the training set (the train_loss pass)"),
    EFF_FULL_GRAD_NORM = float("eff_full_grad_norm", "rho * full_grad_norm"),
    COS_TO_INIT = float("cos_to_init", "cosine between the SI group and its initial value"),
    DIST_TO_INIT = float("dist_to_init", "L2 distance between the SI group and its initial value"),
    STEP_ANGLE = float("step_angle", "angle (radians) between the SI group before and after the last step"),
    WALL_TIME = float("wall_time", "seconds of training so far (summed over resumed segments; not deterministic)"),
    ANGLE_MEAN = float("angle_mean", "mean angle (radians) the SI group turned per step since the previous row (epoch rows: over the epoch; `metrics.angles`)"),
    UPDATE_REL = float("update_rel", "relative update of the SI group in the last step, ||w' - w|| / ||w||"),
    ANGLE_EQ = float("angle_eq", "predicted equilibrium angular update per step, eta_r of the optimizer at the scheduled lr and wd (full space with wd; rotational mode: the angle it turns by)"),
}

/// Prefix of the per-layer norm column of each SI tensor (`norm:conv_layers.0.weight`).
pub const LAYER_NORM_PREFIX: &str = "norm:";
/// Prefix of the per-layer ELR column of each SI tensor (lr / ||w_layer||^p) and of each SI
/// group (lr_G / rho_G^p).
pub const LAYER_ELR_PREFIX: &str = "elr:";
/// Prefix of the norm column of each SI group, rho_G = ||w_G||.
pub const GROUP_RHO_PREFIX: &str = "rho:";
/// Prefix of the last step's angular update of each SI tensor and group (radians).
pub const ANGLE_PREFIX: &str = "angle:";
/// Prefix of the mean angular update per step since the previous row of each SI tensor and
/// group (radians; `metrics.angles`).
pub const ANGLE_MEAN_PREFIX: &str = "angle_mean:";

/// The columns of a sharpness row (`sharpness.csv`, `sharpness_posthoc.csv`, `silab sharpness
/// --json`), in order. With `sharpness.top_k = K > 1`, [`EIG_PREFIX`]`2` ... `K` follow.
pub const SHARPNESS: &[Column] = &[
    int("epoch", "epochs completed when the weights were taken"),
    int("step", "optimizer steps completed"),
    text("group", "parameter group: all, si, non_si, layer:MODULE, group:NAME (an SI group)"),
    int("params", "number of scalars n in the group"),
    text("bn_mode", "BatchNorm while measuring: train (ghost batches, batch statistics) or eval (running statistics)"),
    int("ghost_batch", "ghost-batch size (train mode) / accumulation batch (eval mode)"),
    int("images", "training images measured on (the first ones, fixed)"),
    float("rho", "norm of the SI group, ||w_SI||"),
    float("loss", "mean loss on those images in that BN mode"),
    float("trace", "Hessian trace per parameter, tr(H)/n (Hutchinson)"),
    float("trace_stderr", "standard error of `trace`"),
    float("top_eig", "largest Hessian eigenvalue (Lanczos)"),
    float("top_eig_residual", "Lanczos residual norm ||H x - top_eig x|| of its vector"),
    float(
        "top_eig_rel_residual",
        "top_eig_residual / |top_eig|: some eigenvalue of H lies within this fraction of top_eig",
    ),
    int(
        "converged",
        "1 when every Lanczos estimate of the row (top_eig, riemannian_top_eig, gn_top_eig) has a residual of at most 5% of its eigenvalue (landscape::LANCZOS_TOL), else 0: raise sharpness.lanczos_iters",
    ),
    float("eff_trace", "trace * rho^2 (groups inside the SI group; for group:NAME its own norm squared)"),
    float("eff_top_eig", "top_eig * rho^2 (groups inside the SI group; for group:NAME its own norm squared)"),
    float("riemannian_trace", "trace per parameter of the Riemannian Hessian on the sphere of the SI group (group si)"),
    float("riemannian_trace_stderr", "standard error of `riemannian_trace`"),
    float("riemannian_top_eig", "largest eigenvalue of the Riemannian Hessian P H P - (<w, g>/||w||^2) P (group si)"),
    float("riemannian_top_eig_residual", "Lanczos residual norm of riemannian_top_eig"),
    float("eff_riemannian_trace", "riemannian_trace * rho^2"),
    float("eff_riemannian_top_eig", "riemannian_top_eig * rho^2"),
    float("gn_trace", "Gauss-Newton / Fisher trace per parameter, with the loss's own output Hessian"),
    float("gn_trace_stderr", "standard error of `gn_trace`"),
    float("gn_top_eig", "largest Gauss-Newton eigenvalue"),
    float("gn_top_eig_residual", "Lanczos residual norm of gn_top_eig"),
    float("eff_gn_trace", "gn_trace * rho^2 (groups inside the SI group)"),
    float("eff_gn_top_eig", "gn_top_eig * rho^2 (groups inside the SI group)"),
    float("seconds", "time this row took"),
];

/// Prefix of the further top eigenvalues of a sharpness row (`eig_2` ... `eig_K`).
pub const EIG_PREFIX: &str = "eig_";

/// The keys every row of `silab sharpness --json` has (a contract scripts rely on); the rest of
/// [`SHARPNESS`] follows.
pub const SHARPNESS_CONTRACT: &[&str] = &[
    "epoch",
    "group",
    "bn_mode",
    "trace",
    "trace_stderr",
    "top_eig",
    "eff_trace",
    "eff_top_eig",
    "riemannian_top_eig",
];

/// The columns of a landscape scan (`line.csv`, `slice_1d.csv`, `slice_2d.csv`).
pub const SCAN: &[Column] = &[
    text("kind", "`line`, `slice_1d` or `slice_2d`"),
    text("path", "lines: `straight` or `great_circle`; slices: empty"),
    float("t", "lines: position t (0 = A, 1 = B); slices: alpha along the first direction"),
    float("beta", "2-D slices: beta along the second direction (0 otherwise)"),
    float("train_loss", "loss on the training images evaluated"),
    float("train_acc", "accuracy on those images"),
    float("test_loss", "loss on the test images evaluated"),
    float("test_acc", "accuracy on those images"),
    float("rho", "||w_SI|| at the point"),
];

/// The columns of a Hessian spectral density by stochastic Lanczos quadrature
/// (`spectrum_posthoc.csv`, with `sharpness.density_probes > 0`): per probe, the Ritz values and
/// their quadrature weights.
pub const SPECTRUM: &[Column] = &[
    int("epoch", "epochs completed when the weights were taken"),
    int("step", "optimizer steps completed"),
    text("group", "parameter group (as in the sharpness rows)"),
    text("bn_mode", "BatchNorm while measuring (as in the sharpness rows)"),
    int("probe", "the random start vector, 0 … density_probes − 1"),
    float("node", "a Ritz value θ_j of the probe's Lanczos tridiagonal matrix (an eigenvalue estimate)"),
    float("weight", "its quadrature weight τ_j (each probe's weights sum to 1)"),
];

/// The columns a sweep table puts in front of each point's rows.
pub const SWEEP_KEYS: &[Column] =
    &[int("point", "index of the point in the sweep's manifest"), int("seed", "the point's run seed")];

/// The columns of a regime map's `table.csv` (`silab map`): one row per run.
pub const MAP: &[Column] = &[
    int("round", "the round of the search that ran it (0 = the initial grid)"),
    float("elr", "the run's fixed ELR"),
    int("seed", "the run's seed"),
    text("regime", "`convergence`, `chaotic` or `divergence`"),
    int("decided_at_epoch", "the epoch the early rule stopped it at (empty: it ran to its last epoch)"),
    text("statistic", "what decided the regime: the early rule's statistic, or `end of run` (the tail classifier)"),
    int("epochs", "epochs it trained"),
    float("train_loss", "train loss at its last epoch"),
    float("test_acc", "test accuracy at its last epoch"),
    text("dir", "its run directory, relative to the map directory"),
];

/// The type of any column silab writes, by name: the registries above, then the per-layer and
/// extra-eigenvalue families (floats). Unknown names are floats (a column added by a newer
/// silab still reads as numbers).
pub fn kind_of(name: &str) -> Kind {
    [METRICS, SHARPNESS, SCAN, SPECTRUM, SWEEP_KEYS, MAP]
        .iter()
        .flat_map(|t| t.iter())
        .find(|c| c.name == name)
        .map(|c| c.kind)
        .unwrap_or(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_each_table_and_typed_consistently_across() {
        for t in [METRICS, SHARPNESS, SCAN, SPECTRUM, SWEEP_KEYS, MAP] {
            for (i, c) in t.iter().enumerate() {
                assert!(!t[..i].iter().any(|d| d.name == c.name), "duplicate column {}", c.name);
                assert_eq!(kind_of(c.name), c.kind, "{} has two types", c.name);
            }
        }
        assert_eq!(kind_of("norm:conv_layers.0.weight"), Kind::Float);
        assert_eq!(Kind::Int.format(3.0), "3");
        assert_eq!(Kind::Float.format(f64::NAN), "");
        assert_eq!(Kind::Float.format(0.001), "1e-3");
        // the typed identifiers are the table's columns, in order
        assert_eq!(col::TRAIN_LOSS.name(), "train_loss");
        assert_eq!(METRICS[col::ANGLE_EQ.index()].name, "angle_eq");
        assert_eq!(col::ANGLE_EQ.index(), METRICS.len() - 1);
        for k in SHARPNESS_CONTRACT {
            assert!(SHARPNESS.iter().any(|c| c.name == *k));
        }
    }
}

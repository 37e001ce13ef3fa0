//! The `[sharpness]` section: curvature measurements (Hessian, Gauss–Newton, Riemannian Hessian
//! on the sphere) and the grammar of parameter-group names.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// BatchNorm while curvature (or a landscape scan) is measured.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CurvatureBn {
    /// Batch statistics of each ghost batch of `sharpness.ghost_batch` images (as in training),
    /// running statistics untouched.
    Train,
    /// Running statistics (as at test time).
    Eval,
}

/// Probe distribution of Hutchinson's trace estimator.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    /// Entries +1 or -1 with equal probability.
    Rademacher,
    /// Standard normal entries.
    Gaussian,
}

super::serde_named!(CurvatureBn, Probe);

/// A parameter group by name, as configured (`sharpness.groups`) or given on the command line:
/// `all`, `si`, `non_si`, `layers` (one group per module with trained tensors), `layer:MODULE`
/// (the trained tensors of one module, by its PyTorch name), `si_groups` (one group per SI group
/// of the model) or `group:NAME` (one SI group). The one grammar of group names;
/// `landscape::Group` is what a name selects in a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GroupSpec {
    All,
    Si,
    NonSi,
    Layers,
    Layer(String),
    SiGroups,
    SiGroup(String),
}

impl GroupSpec {
    /// The names a user can write (for error messages).
    pub const ALLOWED: &'static str = "all, si, non_si, layers, layer:MODULE, si_groups, group:NAME";
}

impl std::str::FromStr for GroupSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<GroupSpec, String> {
        match s {
            "all" => Ok(GroupSpec::All),
            "si" => Ok(GroupSpec::Si),
            "non_si" => Ok(GroupSpec::NonSi),
            "layers" => Ok(GroupSpec::Layers),
            "si_groups" => Ok(GroupSpec::SiGroups),
            _ => match (s.strip_prefix("layer:"), s.strip_prefix("group:")) {
                (Some(m), _) if !m.is_empty() => Ok(GroupSpec::Layer(m.to_string())),
                (_, Some(g)) if !g.is_empty() => Ok(GroupSpec::SiGroup(g.to_string())),
                _ => Err(format!("unknown group `{s}`; allowed: {}", GroupSpec::ALLOWED)),
            },
        }
    }
}

impl TryFrom<String> for GroupSpec {
    type Error = String;
    fn try_from(s: String) -> Result<GroupSpec, String> {
        s.parse()
    }
}

impl std::fmt::Display for GroupSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupSpec::All => write!(f, "all"),
            GroupSpec::Si => write!(f, "si"),
            GroupSpec::NonSi => write!(f, "non_si"),
            GroupSpec::Layers => write!(f, "layers"),
            GroupSpec::Layer(m) => write!(f, "layer:{m}"),
            GroupSpec::SiGroups => write!(f, "si_groups"),
            GroupSpec::SiGroup(g) => write!(f, "group:{g}"),
        }
    }
}

impl From<GroupSpec> for String {
    fn from(g: GroupSpec) -> String {
        g.to_string()
    }
}

impl JsonSchema for GroupSpec {
    fn schema_name() -> Cow<'static, str> {
        "GroupSpec".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

/// The `[sharpness]` section: curvature measurements during training every `every_epochs`
/// epochs (rows in `sharpness.csv`) or post hoc with `silab sharpness RUN_DIR`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SharpnessConfig {
    /// During training: measure at initialisation and every N epochs, into `sharpness.csv`
    /// (0 = never; `silab sharpness` measures post hoc).
    pub every_epochs: usize,
    /// During training: measure at initialisation and every N optimizer steps (0 = never); the
    /// rows' `epoch` is the epochs completed at that step.
    pub every_steps: usize,
    /// Parameter groups: `all`, `si`, `non_si`, `layers` (one group per module), `layer:MODULE`
    /// (e.g. `layer:conv_layers.0`), `si_groups` (one per SI group of the model) or `group:NAME`
    /// (one SI group; its `eff_*` use its own norm); groups empty in the model are skipped.
    pub groups: Vec<GroupSpec>,
    /// Measure on the first N images of the training set, a fixed subset (0 = all of them).
    pub images: usize,
    /// BatchNorm mode: `train` (ghost batches, batch statistics) or `eval` (running statistics).
    pub bn_mode: CurvatureBn,
    /// Ghost-batch size in `train` mode, and the accumulation batch in `eval` mode
    /// (0 = `train.batch_size`).
    pub ghost_batch: usize,
    /// Hutchinson probes per trace (the papers use 5).
    pub probes: usize,
    /// Probe distribution: `rademacher` or `gaussian`.
    pub probe: Probe,
    /// Lanczos steps per top-eigenvalue estimate (full reorthogonalisation), 1..=10000.
    pub lanczos_iters: usize,
    /// Number of top eigenvalues (beyond the first: columns `eig_2` ... `eig_K`).
    pub top_k: usize,
    /// Also the Gauss–Newton / Fisher matrix (`gn_*` columns).
    pub gauss_newton: bool,
    /// Also the Riemannian Hessian on the sphere of the SI group (`riemannian_*`, group `si`).
    pub riemannian: bool,
    /// Post hoc only: the Hessian's spectral density by stochastic Lanczos quadrature with this
    /// many random probes of `lanczos_iters` steps each (0 = off), into `spectrum_posthoc.csv`
    /// and `spectrum.png/svg`.
    pub density_probes: usize,
}

impl Default for SharpnessConfig {
    fn default() -> Self {
        Self {
            every_epochs: 0,
            every_steps: 0,
            groups: vec![GroupSpec::Si],
            images: 1000,
            bn_mode: CurvatureBn::Train,
            ghost_batch: 0,
            probes: 5,
            probe: Probe::Rademacher,
            lanczos_iters: 20,
            density_probes: 0,
            top_k: 1,
            gauss_newton: true,
            riemannian: true,
        }
    }
}

//! Every value constraint of a config, one function per section, each error under the key to
//! change. (`!(x > 0.0)` rather than `x <= 0.0` throughout, so that NaN is rejected.)
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::load::all_keys_of;
use super::{
    Arch, Auto, ConfigError, DataName, GroupSpec, ModelConfig, NormName, OptimMode, OptimName, RunConfig, Sphere,
    SplitName, StopWhen, Variant,
};

/// The widest network (`model.width`): ConvNet-k has ~378 k^2 parameters, so k = 1024 is ~400 M.
pub const MAX_WIDTH: i64 = 1024;
/// The widest MLP (`model.width` hidden units).
pub const MAX_MLP_WIDTH: i64 = 65536;
/// The most libtorch threads (`train.threads`).
pub const MAX_THREADS: usize = 1024;
/// The most classes of synthetic data (`data.classes`): one class mean per class, and the
/// output layer grows with it; beyond this a run is a mistake rather than an experiment.
pub const MAX_CLASSES: usize = 1000;
/// The most Lanczos steps (`sharpness.lanczos_iters`): full reorthogonalisation costs
/// O(iters^2) vectors, so 10 000 is already far past convergence for any net silab trains.
pub const MAX_LANCZOS_ITERS: usize = 10_000;

/// The most synthetic images (`data.train_size + data.test_size`), ~12 GiB in memory.
pub const MAX_SYNTHETIC: usize = 1_000_000;

/// The check of one section.
type Check = fn(&RunConfig) -> Result<(), ConfigError>;

/// The error for `key`.
fn bad(key: &str, message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { key: key.into(), message: message.into() })
}

impl RunConfig {
    /// Check every value constraint; the error names the key to change. When several keys are
    /// wrong, the first of [`RunConfig::problems`] is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Only what building the network needs: finite numbers and the `[model]` section.
    pub fn validate_model(&self) -> Result<(), ConfigError> {
        finite(self)?;
        self.model.validate()?;
        builtin_patch(self)
    }

    /// Every section's first violated constraint, in the order finite numbers, model, data,
    /// optim, train, sharpness (empty: the config is valid).
    pub fn problems(&self) -> Vec<ConfigError> {
        let checks: [Check; 6] = [finite, |c| c.model.validate(), data, optim, train, sharpness];
        checks.iter().filter_map(|check| check(self).err()).collect()
    }
}

/// No key takes a non-finite number (TOML allows inf and nan).
fn finite(c: &RunConfig) -> Result<(), ConfigError> {
    let tree = toml::Table::try_from(c).expect("a config serializes");
    match all_keys_of(&tree).into_iter().find(|(_, v)| v.as_float().is_some_and(|f| !f.is_finite())) {
        Some((key, v)) => bad(&key, format!("must be a finite number, got {v}")),
        None => Ok(()),
    }
}

impl ModelConfig {
    /// The `[model]` section on its own: sizes and numbers in range, then [`ModelConfig::check`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let max_width = if self.arch == Arch::Mlp { MAX_MLP_WIDTH } else { MAX_WIDTH };
        if !(1..=max_width).contains(&self.width) {
            return bad("model.width", format!("must be in 1..={max_width} for {}, got {}", self.arch, self.width));
        }
        if !(1..=4096).contains(&self.dim) {
            return bad("model.dim", format!("must be in 1..=4096, got {}", self.dim));
        }
        if !(self.init_scale > 0.0 && self.init_scale.is_finite()) {
            return bad("model.init_scale", format!("must be a finite number > 0, got {}", self.init_scale));
        }
        if !(self.bn_eps >= 0.0) {
            return bad("model.bn_eps", format!("must be >= 0, got {}", self.bn_eps));
        }
        self.check()
    }

    /// Whether the architecture takes this normalization, variant and shape; the error names the
    /// key that does not fit.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.check_scripted()?;
        let norm = self.norm();
        match self.arch {
            Arch::Mlp if norm == NormName::Instance => {
                return bad("model.norm", "instance normalization needs feature maps; the MLP has vectors");
            }
            Arch::Vit if !matches!(norm, NormName::Layer | NormName::Rms) => {
                return bad("model.norm", format!("a ViT takes model.norm = \"layer\" or \"rms\", not \"{norm}\""));
            }
            Arch::Vit if self.variant == Variant::SiAffine => {
                return bad(
                    "model.variant",
                    "a ViT is `standard` or `scale-invariant` (its feed-forward linears followed by LayerNorm)",
                );
            }
            _ => {}
        }
        if norm == NormName::Group {
            let width = if self.arch == Arch::Vit { self.dim } else { self.width };
            if self.groups < 1 || width % self.groups != 0 {
                return bad("model.groups", format!("must divide the normalized width [{width}], got {}", self.groups));
            }
        }
        if self.arch == Arch::Vit {
            self.check_vit()?;
        }
        if matches!(self.arch, Arch::Mlp | Arch::Vit) && !(1..=64).contains(&self.depth) {
            return bad("model.depth", format!("must be in 1..=64, got {}", self.depth));
        }
        Ok(())
    }

    /// `model.file`, `model.si_groups` and `model.frozen` belong to `torchscript` (and the file
    /// is required there); each group has a name and at least one pattern.
    fn check_scripted(&self) -> Result<(), ConfigError> {
        if self.arch != Arch::Torchscript {
            let set = [
                ("model.file", !self.file.is_empty()),
                ("model.si_groups", !self.si_groups.is_empty()),
                ("model.frozen", !self.frozen.is_empty()),
            ];
            return match set.iter().find(|(_, on)| *on) {
                Some((key, _)) => {
                    bad(key, format!("only applies to model.arch = \"torchscript\", not \"{}\"", self.arch))
                }
                None => Ok(()),
            };
        }
        if self.file.is_empty() {
            return bad("model.file", "model.arch = \"torchscript\" needs the scripted module's file (`net.pt`)");
        }
        for (i, g) in self.si_groups.iter().enumerate() {
            if g.name.is_empty() {
                return bad(&format!("model.si_groups[{i}].name"), "must not be empty");
            }
            if g.params.is_empty() || g.params.iter().any(|p| p.is_empty()) {
                return bad(&format!("model.si_groups[{i}].params"), "needs at least one non-empty name or glob");
            }
        }
        Ok(())
    }

    /// The shape of a ViT: heads, patch and MLP ratio.
    fn check_vit(&self) -> Result<(), ConfigError> {
        if self.dim < 1 {
            return bad("model.dim", format!("must be >= 1, got {}", self.dim));
        }
        if self.heads < 1 || self.dim % self.heads != 0 {
            return bad("model.heads", format!("must divide model.dim = {}, got {}", self.dim, self.heads));
        }
        // that it divides the inputs' height and width is checked with the data: the built-in
        // images here (`data`), your own when they are loaded (`model::accepts`)
        if !(1..=MAX_IMAGE_SIZE as i64).contains(&self.patch) {
            return bad("model.patch", format!("must be in 1..={MAX_IMAGE_SIZE}, got {}", self.patch));
        }
        if self.mlp_ratio.is_nan() || self.dim as f64 * self.mlp_ratio < 1.0 {
            return bad(
                "model.mlp_ratio",
                format!("must give at least one hidden unit (model.dim = {}), got {}", self.dim, self.mlp_ratio),
            );
        }
        Ok(())
    }
}

/// A ViT's patch must divide the built-in images' 32 pixels (your own data's size is checked
/// when it is loaded).
fn builtin_patch(c: &RunConfig) -> Result<(), ConfigError> {
    let own = matches!(c.data.name, DataName::Tensors | DataName::Folder | DataName::Parquet);
    if !own && c.model.arch == Arch::Vit && 32 % c.model.patch != 0 {
        return bad("model.patch", format!("must divide the image size 32, got {}", c.model.patch));
    }
    Ok(())
}

/// The `[data]` section.
fn data(c: &RunConfig) -> Result<(), ConfigError> {
    let d = &c.data;
    let own = matches!(d.name, DataName::Tensors | DataName::Folder | DataName::Parquet);
    builtin_patch(c)?;
    if d.name == DataName::Synthetic && d.train_size.saturating_add(d.test_size) > MAX_SYNTHETIC {
        // blame the larger of the two: the one a `--set` most likely made too large
        let key = if d.test_size > d.train_size { "data.test_size" } else { "data.train_size" };
        return bad(
            key,
            format!(
                "synthetic data holds at most {MAX_SYNTHETIC} images in all (12 KiB each in memory), got {} + {}",
                d.train_size, d.test_size
            ),
        );
    }
    if !(0.0..1.0).contains(&d.label_noise) {
        return bad("data.label_noise", format!("must be in [0, 1), got {}", d.label_noise));
    }
    if own {
        return own_data(d);
    }
    if d.name == DataName::Synthetic {
        if !(2..=MAX_CLASSES).contains(&d.classes) {
            return bad("data.classes", format!("must be in 2..={MAX_CLASSES}, got {}", d.classes));
        }
        if d.holdout > 0 {
            // synthetic data has its own test set (data.test_size); a holdout would be ignored
            return bad(
                "data.holdout",
                "applies to mnist and cifar10 only: synthetic data sets its test set by data.test_size",
            );
        }
        if d.train_size == 0 {
            return bad("data.train_size", "synthetic data needs train_size and test_size > 0");
        }
        if d.test_size == 0 {
            return bad("data.test_size", "synthetic data needs train_size and test_size > 0");
        }
        if !(d.noise >= 0.0) {
            return bad("data.noise", format!("must be >= 0, got {}", d.noise));
        }
    }
    Ok(())
}

/// The largest `data.image_size` (a 1024 x 1024 RGB image is 12 MiB in memory).
pub const MAX_IMAGE_SIZE: usize = 1024;

/// `[data]` of your own data (`tensors`, `folder`, `parquet`): where it is, and how the test
/// set is made when the files hold none.
fn own_data(d: &super::DataConfig) -> Result<(), ConfigError> {
    let (file, dir) = (d.file.as_os_str().is_empty(), d.dir.as_os_str().is_empty());
    match d.name {
        DataName::Tensors if file => return bad("data.file", "tensors data needs the .safetensors or .npz file"),
        DataName::Parquet if file => return bad("data.file", "parquet data needs the training split's parquet file"),
        DataName::Folder if dir => {
            return bad("data.dir", "folder data needs the folder with one sub-folder per class");
        }
        _ => {}
    }
    let one_split = d.name == DataName::Folder || (d.name == DataName::Parquet && d.test_file.as_os_str().is_empty());
    if one_split && d.holdout == 0 {
        let what = if d.name == DataName::Folder { "an image folder" } else { "without data.test_file, parquet data" };
        return bad("data.holdout", format!("{what} has no test split: set data.holdout > 0 to hold out test images"));
    }
    if one_split && d.train_split != SplitName::Train {
        return bad("data.train_split", "this data has one split only: the training pool is it (\"train\")");
    }
    if d.name != DataName::Tensors && !(1..=MAX_IMAGE_SIZE).contains(&d.image_size) {
        return bad("data.image_size", format!("must be in 1..={MAX_IMAGE_SIZE}, got {}", d.image_size));
    }
    if d.name == DataName::Parquet {
        for (key, v) in [("data.image_column", &d.image_column), ("data.label_column", &d.label_column)] {
            if v.is_empty() {
                return bad(key, "must name a column of the parquet file");
            }
        }
    }
    Ok(())
}

/// The `[optim]` section: the update rule's own numbers, then the mode's.
fn optim(c: &RunConfig) -> Result<(), ConfigError> {
    let o = &c.optim;
    if !(o.lr > 0.0) {
        return bad("optim.lr", format!("must be > 0, got {}", o.lr));
    }
    if !(o.wd >= 0.0) {
        return bad("optim.wd", format!("must be >= 0, got {}", o.wd));
    }
    if !(0.0..1.0).contains(&o.momentum) {
        return bad("optim.momentum", format!("must be in [0, 1), got {}", o.momentum));
    }
    if o.nesterov && (o.name != OptimName::Sgd || o.momentum == 0.0) {
        return bad("optim.nesterov", "needs optim.name = \"sgd\" and optim.momentum > 0");
    }
    if o.momentum > 0.0 && o.name != OptimName::Sgd {
        return bad("optim.momentum", format!("is SGD's; {} has beta1", o.name));
    }
    let (b1, b2) = o.betas();
    for (key, b) in [("optim.beta1", b1), ("optim.beta2", b2)] {
        if !(0.0..1.0).contains(&b) {
            return bad(key, format!("must be in [0, 1), got {b}"));
        }
    }
    if !(o.eps > 0.0) {
        return bad("optim.eps", format!("must be > 0, got {}", o.eps));
    }
    if !(o.wd_non_si() >= 0.0) {
        return bad("optim.wd_non_si", format!("must be >= 0, got {}", o.wd_non_si()));
    }
    if o.warmup_epochs > 0 && o.warmup_steps > 0 {
        return bad("optim.warmup_steps", "give optim.warmup_epochs or optim.warmup_steps, not both");
    }
    if !(o.gamma > 0.0) {
        return bad("optim.gamma", format!("must be > 0, got {}", o.gamma));
    }
    match o.mode {
        OptimMode::Sphere => sphere_mode(c),
        OptimMode::Rotational => rotational_mode(c),
        OptimMode::Full => {
            if o.sphere() != Sphere::Global {
                return bad("optim.sphere", "only applies to optim.mode = \"sphere\"");
            }
            Ok(())
        }
    }
}

/// Sphere mode: a positive ELR, spheres the model can be projected onto.
fn sphere_mode(c: &RunConfig) -> Result<(), ConfigError> {
    let o = &c.optim;
    if o.per_filter && o.sphere == Sphere::PerGroup {
        return bad("optim.per_filter", "contradicts optim.sphere = \"per_group\"; use optim.sphere alone");
    }
    if c.model.norm() == NormName::None {
        return bad("optim.mode", "sphere mode needs scale-invariant weights; model.norm = \"none\" has none");
    }
    if o.sphere() == Sphere::PerFilter {
        let per_channel = matches!(c.model.norm(), NormName::Batch | NormName::Instance | NormName::Weight);
        if !(matches!(c.model.arch, Arch::Convnet | Arch::Mlp) && c.model.variant != Variant::Standard && per_channel) {
            return bad(
                "optim.sphere",
                "per-filter spheres need each filter to be scale-invariant on its own: ConvNet or MLP with batch, instance or weight normalization, in the scale-invariant or si-affine variant",
            );
        }
    }
    if !(o.elr > 0.0) {
        return bad("optim.elr", format!("must be > 0 in sphere mode, got {}", o.elr));
    }
    Ok(())
}

/// Rotational mode: SI weights to turn, and an angle in (0, pi/2) or one to default to.
fn rotational_mode(c: &RunConfig) -> Result<(), ConfigError> {
    let o = &c.optim;
    if c.model.norm() == NormName::None {
        return bad("optim.mode", "rotational mode needs scale-invariant weights; model.norm = \"none\" has none");
    }
    if o.sphere() != Sphere::Global {
        return bad("optim.sphere", "only applies to optim.mode = \"sphere\"");
    }
    match o.angle {
        Auto::Auto if o.name == OptimName::Adam => {
            bad("optim.angle", "Adam has no equilibrium angle to default to: give optim.angle")
        }
        Auto::Auto if !(o.wd > 0.0) => {
            bad("optim.angle", "`auto` is the equilibrium angle, which needs optim.wd > 0; or give the angle")
        }
        Auto::Value(a) if !(a > 0.0 && a < std::f64::consts::FRAC_PI_2) => {
            bad("optim.angle", format!("must be in (0, pi/2) radians, got {a}"))
        }
        _ => Ok(()),
    }
}

/// The `[train]` section.
fn train(c: &RunConfig) -> Result<(), ConfigError> {
    if !(1..=MAX_THREADS).contains(&c.train.threads) {
        return bad("train.threads", format!("must be in 1..={MAX_THREADS}, got {}", c.train.threads));
    }
    if c.train.epochs == 0 {
        return bad("train.epochs", "must be >= 1");
    }
    if c.train.stop_when == StopWhen::Regime {
        if c.optim.mode != OptimMode::Sphere {
            return bad(
                "train.stop_when",
                format!(
                    "\"regime\" needs optim.mode = \"sphere\" (regimes are those of a fixed ELR), got \"{}\"",
                    c.optim.mode.name()
                ),
            );
        }
        if !c.metrics.train_eval {
            return bad(
                "train.stop_when",
                "\"regime\" reads the train loss and accuracy: needs metrics.train_eval = true",
            );
        }
        if !(2..=10_000).contains(&c.train.regime_window) {
            return bad("train.regime_window", format!("must be in 2..=10000 epochs, got {}", c.train.regime_window));
        }
    }
    Ok(())
}

/// The `[sharpness]` section.
fn sharpness(c: &RunConfig) -> Result<(), ConfigError> {
    let sh = &c.sharpness;
    if sh.groups.is_empty() {
        return bad("sharpness.groups", format!("name at least one group: {}", GroupSpec::ALLOWED));
    }
    if sh.probes < 2 {
        return bad("sharpness.probes", format!("must be >= 2 (for a standard error), got {}", sh.probes));
    }
    if sh.density_probes > 1000 {
        return bad("sharpness.density_probes", format!("must be in 0..=1000, got {}", sh.density_probes));
    }
    if !(1..=MAX_LANCZOS_ITERS).contains(&sh.lanczos_iters) {
        return bad("sharpness.lanczos_iters", format!("must be in 1..={MAX_LANCZOS_ITERS}, got {}", sh.lanczos_iters));
    }
    if sh.top_k == 0 || sh.top_k > sh.lanczos_iters {
        return bad(
            "sharpness.top_k",
            format!("must be in 1..=sharpness.lanczos_iters ({}), got {}", sh.lanczos_iters, sh.top_k),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key an invalid `--set` list is blamed on.
    fn blamed(sets: &[&str]) -> String {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        match RunConfig::from_parts(None, &sets) {
            Ok(_) => "(valid)".into(),
            Err(e) => e.key().map(String::from).unwrap_or_else(|| format!("(no key: {e})")),
        }
    }

    #[test]
    fn each_vit_error_names_its_own_key() {
        let vit = ["model.arch=vit", "model.dim=16", "model.heads=2", "model.patch=8", "model.depth=2"];
        let with = |extra: &str| {
            let mut s = vit.to_vec();
            s.push(extra);
            blamed(&s)
        };
        assert_eq!(blamed(&vit), "(valid)");
        assert_eq!(with("model.heads=3"), "model.heads");
        assert_eq!(with("model.heads=0"), "model.heads");
        assert_eq!(with("model.patch=5"), "model.patch");
        assert_eq!(with("model.patch=64"), "model.patch");
        assert_eq!(with("model.depth=0"), "model.depth");
        assert_eq!(with("model.depth=65"), "model.depth");
        assert_eq!(with("model.mlp_ratio=0.01"), "model.mlp_ratio");
        assert_eq!(with("model.mlp_ratio=nan"), "model.mlp_ratio");
        assert_eq!(with("model.variant=si-affine"), "model.variant");
        assert_eq!(with("model.norm=batch"), "model.norm");
    }

    #[test]
    fn model_errors_say_what_is_allowed() {
        let e = RunConfig::from_parts(None, &["model.arch=vit".into(), "model.heads=3".into()]).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for `model.heads`: must divide model.dim = 64, got 3");
        let e = RunConfig::from_parts(None, &["model.norm=group".into(), "model.groups=3".into()]).unwrap_err();
        assert_eq!(e.key(), Some("model.groups"), "{e}");
        let e = RunConfig::from_parts(None, &["model.arch=mlp".into(), "model.norm=instance".into()]).unwrap_err();
        assert_eq!(e.key(), Some("model.norm"), "{e}");
    }

    #[test]
    fn cross_section_errors_name_the_key_to_change() {
        assert_eq!(blamed(&["model.norm=none"]), "optim.mode");
        assert_eq!(blamed(&["model.norm=none", "optim.mode=full"]), "(valid)");
        assert_eq!(blamed(&["optim.mode=full", "optim.sphere=per_group"]), "optim.sphere");
        assert_eq!(blamed(&["optim.per_filter=true", "optim.sphere=per_group"]), "optim.per_filter");
        assert_eq!(blamed(&["optim.name=adam", "optim.momentum=0.9"]), "optim.momentum");
        assert_eq!(blamed(&["optim.mode=rotational"]), "optim.angle");
        assert_eq!(blamed(&["data.test_size=0"]), "data.test_size");
        // without data.dir these read the download cache (data::load says when it is empty)
        assert_eq!(blamed(&["data.name=mnist"]), "(valid)");
        assert_eq!(blamed(&["data.name=cifar10"]), "(valid)");
        assert_eq!(blamed(&["sharpness.top_k=30"]), "sharpness.top_k");
    }

    #[test]
    fn problems_lists_one_error_per_wrong_section() {
        let mut c = RunConfig::default();
        c.model.heads = 3;
        c.model.arch = Arch::Vit;
        c.optim.lr = -1.0;
        c.train.epochs = 0;
        let keys: Vec<String> = c.problems().iter().filter_map(|e| e.key().map(String::from)).collect();
        assert_eq!(keys, ["model.heads", "optim.lr", "train.epochs"]);
    }

    #[test]
    fn non_finite_numbers_and_sizes_beyond_bounds_are_refused() {
        for (set, key) in [
            ("optim.lr=inf", "optim.lr"),
            ("optim.elr=inf", "optim.elr"),
            ("optim.wd=nan", "optim.wd"),
            ("data.noise=inf", "data.noise"),
            ("sharpness.probes=2", ""),
            ("data.train_size=100000000000", "data.train_size"),
            ("model.width=1000000", "model.width"),
            ("train.threads=100000", "train.threads"),
            ("train.threads=0", "train.threads"),
            ("data.classes=100000", "data.classes"),
            ("data.classes=1000", ""),
            ("sharpness.lanczos_iters=100000000", "sharpness.lanczos_iters"),
            ("sharpness.lanczos_iters=10000", ""),
        ] {
            let r = RunConfig::from_parts(None, &[set.into()]);
            if key.is_empty() {
                assert!(r.is_ok(), "{set}");
            } else {
                let e = r.unwrap_err();
                assert_eq!(e.key(), Some(key), "{set}: {e}");
            }
        }
        assert!(RunConfig::from_parts(None, &["optim.lr=1e30".into()]).is_ok(), "large but finite is allowed");
        let e =
            RunConfig::from_parts(None, &["data.name=\"synthetic\"".into(), "data.holdout=100".into()]).unwrap_err();
        assert_eq!(e.key(), Some("data.holdout"), "{e}");
        let e = RunConfig::from_parts(None, &["optim.momentum=1.5".into()]).unwrap_err();
        assert_eq!(e.key(), Some("optim.momentum"), "{e}");
    }
}

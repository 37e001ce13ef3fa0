//! Metrics of spec §4: the measurements behind the columns of `metrics.csv` (whose names, types
//! and meanings are registered once, in [`crate::schema::METRICS`]).
//!
//! Symbols: rho = ||w_SI|| (all SI tensors as one vector); ELR = lr / rho^p ([`elr`]: p = 2
//! for SGD, 1 for Adam-type rules); g_eff = rho * ||grad_SI L|| (the gradient norm at the unit sphere).

use crate::config::Loss;
use crate::data::Dataset;
use crate::model::{BnMode, Net, Role, correct, loss, sq_norm};
use crate::schema::{
    ANGLE_MEAN_PREFIX, ANGLE_PREFIX, GROUP_RHO_PREFIX, Kind as ColumnKind, LAYER_ELR_PREFIX, LAYER_NORM_PREFIX,
    METRICS, MetricCol, col,
};
use tch::{Kind, Tensor};

/// The effective learning rate of a scale-invariant group of norm `rho` stepped with `lr`:
/// ELR = lr / rho^p (the step size the group's direction sees), p = 2 for SGD (its step scales
/// with the gradient, ~1/rho) and p = 1 for Adam, AdamW and Lion (normalized steps; see
/// `optim`). The one definition: the `elr` column, the per-layer and per-group `elr:` columns,
/// the progress line and the analysis all use it.
pub fn elr(lr: f64, rho: f64, p: i32) -> f64 {
    lr / rho.powi(p)
}

/// All column names for a net: the fixed ones, then, when `layers` is set, per SI tensor its norm
/// and ELR, then per SI group its norm and ELR.
pub fn header(net: &Net, layers: bool) -> Vec<String> {
    let mut h: Vec<String> = METRICS.iter().map(|c| c.name.to_string()).collect();
    if layers {
        for p in net.with_role(Role::Si) {
            h.push(format!("{LAYER_NORM_PREFIX}{}", p.name));
        }
        for p in net.with_role(Role::Si) {
            h.push(format!("{LAYER_ELR_PREFIX}{}", p.name));
        }
        for g in net.si_groups() {
            h.push(format!("{GROUP_RHO_PREFIX}{}", g.name));
        }
        for g in net.si_groups() {
            h.push(format!("{LAYER_ELR_PREFIX}{}", g.name));
        }
        for prefix in [ANGLE_PREFIX, ANGLE_MEAN_PREFIX] {
            for p in net.with_role(Role::Si) {
                h.push(format!("{prefix}{}", p.name));
            }
            for g in net.si_groups() {
                h.push(format!("{prefix}{}", g.name));
            }
        }
    }
    h
}

/// The angular update of one step: per SI tensor, per SI group and of the whole SI group, from
/// the weights before the step, as 0-dim f64 device tensors (no sync).
pub struct StepAngles {
    /// `(<w, w'>, ||w||^2, ||w'||^2)` of each SI tensor, in `Net::si` order.
    parts: Vec<(Tensor, Tensor, Tensor)>,
    /// Each SI group's members, as positions in `Net::si` order.
    groups: Vec<Vec<usize>>,
}

impl StepAngles {
    /// Compare the SI tensors now with `before` (the same tensors before the step).
    pub fn measure(net: &Net, before: &[Tensor]) -> StepAngles {
        let si = net.si();
        let parts = si
            .iter()
            .zip(before)
            .map(|(a, b)| ((*a * b).sum(Kind::Double), b.square().sum(Kind::Double), a.square().sum(Kind::Double)))
            .collect();
        StepAngles { parts, groups: si_positions(net) }
    }

    fn angle(dot: &Tensor, nb: &Tensor, na: &Tensor) -> Tensor {
        (dot / (nb * na).sqrt()).clamp(-1.0, 1.0).acos()
    }

    fn sum(&self, idx: &[usize]) -> (Tensor, Tensor, Tensor) {
        // (a net without SI tensors: zeros, so its angles are NaN: empty cells)
        let z = || match self.parts.first() {
            Some(p) => p.0.zeros_like(),
            None => Tensor::zeros([], (Kind::Double, tch::Device::Cpu)),
        };
        idx.iter()
            .fold((z(), z(), z()), |(d, b, a), &i| (d + &self.parts[i].0, b + &self.parts[i].1, a + &self.parts[i].2))
    }

    /// The angles: the whole SI group first, then each SI tensor, then each SI group.
    pub fn angles(&self) -> Vec<Tensor> {
        let all: Vec<usize> = (0..self.parts.len()).collect();
        let (d, b, a) = self.sum(&all);
        let mut out = vec![Self::angle(&d, &b, &a)];
        out.extend(self.parts.iter().map(|(d, b, a)| Self::angle(d, b, a)));
        for g in &self.groups {
            let (d, b, a) = self.sum(g);
            out.push(Self::angle(&d, &b, &a));
        }
        out
    }

    /// ||w' - w|| / ||w|| of the whole SI group.
    pub fn update_rel(&self) -> Tensor {
        let all: Vec<usize> = (0..self.parts.len()).collect();
        let (d, b, a) = self.sum(&all);
        ((&a + &b - d * 2.0).clamp_min(0.0) / b).sqrt()
    }
}

/// Each SI group's members as positions among the SI tensors (`Net::si` order).
fn si_positions(net: &Net) -> Vec<Vec<usize>> {
    let si_params: Vec<usize> =
        net.params().iter().enumerate().filter(|(_, p)| p.role == Role::Si).map(|(i, _)| i).collect();
    net.si_groups()
        .iter()
        .map(|g| g.params.iter().filter_map(|i| si_params.iter().position(|j| j == i)).collect())
        .collect()
}

/// Running sums of [`StepAngles::angles`] between rows (device tensors, no sync per step).
pub struct AngleAcc {
    sums: Vec<Tensor>,
    n: usize,
}

impl AngleAcc {
    pub fn new() -> AngleAcc {
        AngleAcc { sums: vec![], n: 0 }
    }
    pub fn add(&mut self, angles: &[Tensor]) {
        if self.sums.is_empty() {
            self.sums = angles.iter().map(|a| a.copy()).collect();
        } else {
            for (s, a) in self.sums.iter_mut().zip(angles) {
                *s += a;
            }
        }
        self.n += 1;
    }
    /// The means (whole SI group, tensors, groups), or none without steps.
    pub fn means(&self) -> Option<Vec<f64>> {
        (self.n > 0).then(|| self.sums.iter().map(|s| s.double_value(&[]) / self.n as f64).collect())
    }
}

impl Default for AngleAcc {
    fn default() -> Self {
        Self::new()
    }
}

/// Norm of each SI group, rho_G = ||w_G||.
pub fn group_norms(net: &Net) -> Vec<f64> {
    net.si_groups().iter().map(|g| sq_norm(&net.group_tensors(g)).sqrt()).collect()
}

/// One row of `metrics.csv`: values aligned with [`header`]; NaN = not measured at this row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub epoch: usize,
    pub step: usize,
    pub is_epoch: bool,
    pub values: Vec<f64>,
}

impl Row {
    pub fn new(epoch: usize, step: usize, is_epoch: bool, width: usize) -> Row {
        let mut values = vec![f64::NAN; width];
        values[col::EPOCH.index()] = epoch as f64;
        values[col::STEP.index()] = step as f64;
        Row { epoch, step, is_epoch, values }
    }
    /// Set a fixed column (typed: a misspelled column does not compile).
    pub fn set(&mut self, c: MetricCol, v: f64) {
        self.values[c.index()] = v;
    }
    /// A fixed column's value (NaN = not measured).
    pub fn get(&self, c: MetricCol) -> f64 {
        self.values[c.index()]
    }
    /// The text of the `row` column.
    pub fn kind(&self) -> &'static str {
        if self.is_epoch { "epoch" } else { "step" }
    }
    /// CSV fields, each formatted by its column's type ([`ColumnKind::format`]).
    pub fn fields(&self) -> Vec<String> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| match METRICS.get(i).map(|c| c.kind).unwrap_or(ColumnKind::Float) {
                ColumnKind::Text => self.kind().to_string(),
                k => k.format(*v),
            })
            .collect()
    }
    /// The epoch line a run prints and logs: the headline metrics, unmeasured ones as `-`.
    pub fn epoch_line(&self) -> String {
        let f = |c: MetricCol, prec: usize| {
            let v = self.get(c);
            if v.is_nan() { "-".to_string() } else { format!("{v:.prec$}") }
        };
        format!(
            "epoch {:>4}  train_loss {}  train_acc {}  test_acc {}  rho {}  elr {:.2e}  g_eff {}",
            self.epoch,
            f(col::TRAIN_LOSS, 4),
            f(col::TRAIN_ACC, 3),
            f(col::TEST_ACC, 3),
            f(col::RHO, 3),
            self.get(col::ELR),
            f(col::EFF_GRAD_NORM, 3),
        )
    }
}

/// Loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    pub loss: f64,
    pub acc: f64,
    /// ||mean gradient of the SI group||, when requested.
    pub full_grad_norm: Option<f64>,
}

/// Loss/accuracy over `data` in batches of `batch` (fixed order). With `mode = TrainFrozenStats`
/// BN uses batch statistics without updating its running averages. With `full_grad`, also the
/// norm of the gradient of the mean loss w.r.t. the SI group (the gradients of `net` are left
/// zeroed).
pub fn evaluate(net: &Net, data: &Dataset, batch: usize, mode: BnMode, loss_kind: Loss, full_grad: bool) -> Eval {
    let n = data.len();
    let mut loss_sum = 0.0;
    let mut hits = 0i64;
    if full_grad {
        net.zero_grad();
    }
    for (start, len) in crate::data::batch_spans(n, batch, mode != BnMode::Eval) {
        let x = data.images.narrow(0, start as i64, len as i64);
        let y = data.labels.narrow(0, start as i64, len as i64);
        let weight = len as f64 / n as f64;
        if full_grad {
            let logits = net.forward(&x, mode);
            let l = loss(&logits, &y, loss_kind);
            (&l * weight).backward();
            loss_sum += l.double_value(&[]) * len as f64;
            hits += correct(&logits.detach(), &y);
        } else {
            tch::no_grad(|| {
                let logits = net.forward(&x, mode);
                loss_sum += loss(&logits, &y, loss_kind).double_value(&[]) * len as f64;
                hits += correct(&logits, &y);
            });
        }
    }
    let full_grad_norm = full_grad.then(|| {
        let g = crate::optim::si_grad_norm(net).double_value(&[]);
        net.zero_grad();
        g
    });
    Eval { loss: loss_sum / n as f64, acc: hits as f64 / n as f64, full_grad_norm }
}

/// Cosine and L2 distance between the SI group and `init` (same order as `Net::si`).
pub fn to_init(net: &Net, init: &[Tensor]) -> (f64, f64) {
    let si = net.si();
    let mut dot = 0.0;
    let mut d2 = 0.0;
    for (w, w0) in si.iter().zip(init) {
        dot += (*w * w0).sum(Kind::Double).double_value(&[]);
        d2 += (*w - w0).square().sum(Kind::Double).double_value(&[]);
    }
    let n0 = sq_norm(&init.iter().collect::<Vec<_>>()).sqrt();
    let n = sq_norm(&si).sqrt();
    (dot / (n * n0), d2.sqrt())
}

/// Per-tensor norms of the SI group.
pub fn layer_norms(net: &Net) -> Vec<f64> {
    net.si().iter().map(|w| w.square().sum(Kind::Double).double_value(&[]).sqrt()).collect()
}

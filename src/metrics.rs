//! Metrics of spec §4, and the one definition of their names (the columns of `metrics.csv`).
//!
//! Symbols: rho = ||w_SI|| (all SI tensors as one vector); ELR = lr / rho^2;
//! g_eff = rho * ||grad_SI L|| (the gradient norm at the unit sphere).

use crate::config::Loss;
use crate::data::Dataset;
use crate::model::{BnMode, Net, correct, loss, sq_norm};
use tch::{Kind, Tensor};

/// The fixed columns of `metrics.csv`, in order, with their meaning (this table is the README's).
pub const COLUMNS: &[(&str, &str)] = &[
    ("epoch", "epochs completed at this row (0 = at initialisation)"),
    ("step", "optimizer steps completed at this row"),
    ("row", "`epoch` (end of an epoch: every column) or `step` (every `train.log_every` steps: cheap columns only)"),
    ("lr", "learning rate of the last step; sphere mode: the SI group's `ELR * rho0^2`"),
    (
        "train_loss",
        "loss over the whole training set, BN in train mode (batch statistics, fixed batches of `train.batch_size`)",
    ),
    ("train_acc", "accuracy over the whole training set, same pass as train_loss"),
    ("test_loss", "loss over the test set, BN in eval mode (running statistics)"),
    ("test_acc", "accuracy over the test set, BN in eval mode"),
    ("batch_loss", "mean minibatch loss of the steps since the previous row (epoch rows: of the whole epoch)"),
    ("rho", "norm of the SI group, rho = ||w_SI||"),
    ("elr", "effective learning rate lr / rho^2 (sphere mode: the configured ELR)"),
    ("grad_norm", "mean minibatch gradient norm of the SI group, mean of ||g_SI||"),
    ("eff_grad_norm", "effective gradient norm, mean of rho * ||g_SI|| over the same minibatches"),
    ("full_grad_norm", "norm of the mean gradient of the SI group over the training set (the train_loss pass)"),
    ("eff_full_grad_norm", "rho * full_grad_norm"),
    ("cos_to_init", "cosine between the SI group and its initial value"),
    ("dist_to_init", "L2 distance between the SI group and its initial value"),
    ("step_angle", "angle (radians) between the SI group before and after the last step"),
    ("wall_time", "seconds of training so far (summed over resumed segments; not deterministic)"),
];

/// Prefix of the per-layer norm column of each SI tensor (`norm:conv_layers.0.weight`).
pub const LAYER_NORM_PREFIX: &str = "norm:";
/// Prefix of the per-layer ELR column of each SI tensor: lr / ||w_layer||^2.
pub const LAYER_ELR_PREFIX: &str = "elr:";

/// Index of a fixed column.
pub fn col(name: &str) -> usize {
    COLUMNS.iter().position(|(n, _)| *n == name).unwrap_or_else(|| panic!("unknown metric column {name}"))
}

/// All column names for a net: the fixed ones, then per-layer ones when `layers` is set.
pub fn header(net: &Net, layers: bool) -> Vec<String> {
    let mut h: Vec<String> = COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
    if layers {
        for p in net.with_role(crate::model::Role::Si) {
            h.push(format!("{LAYER_NORM_PREFIX}{}", p.name));
        }
        for p in net.with_role(crate::model::Role::Si) {
            h.push(format!("{LAYER_ELR_PREFIX}{}", p.name));
        }
    }
    h
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
        values[col("epoch")] = epoch as f64;
        values[col("step")] = step as f64;
        Row { epoch, step, is_epoch, values }
    }
    pub fn set(&mut self, name: &str, v: f64) {
        self.values[col(name)] = v;
    }
    pub fn get(&self, name: &str) -> f64 {
        self.values[col(name)]
    }
    /// CSV fields: integers for epoch/step, the row kind, empty for NaN, else full precision.
    pub fn fields(&self) -> Vec<String> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i == col("row") {
                    (if self.is_epoch { "epoch" } else { "step" }).to_string()
                } else if i == col("epoch") || i == col("step") {
                    format!("{}", *v as u64)
                } else if v.is_nan() {
                    String::new()
                } else {
                    format!("{v:e}")
                }
            })
            .collect()
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
    let batch = if batch == 0 { n } else { batch };
    let mut loss_sum = 0.0;
    let mut hits = 0i64;
    if full_grad {
        net.zero_grad();
    }
    let mut start = 0;
    while start < n {
        let mut len = batch.min(n - start);
        // BN in train mode cannot normalize a batch of one: fold it into the previous batch.
        if mode != BnMode::Eval && n - start - len == 1 {
            len += 1;
        }
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
        start += len;
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

/// Angle (radians) between the SI group `before` and now.
pub fn angle(net: &Net, before: &[Tensor]) -> f64 {
    let (c, _) = to_init(net, before);
    c.clamp(-1.0, 1.0).acos()
}

/// Per-tensor norms of the SI group.
pub fn layer_norms(net: &Net) -> Vec<f64> {
    net.si().iter().map(|w| w.square().sum(Kind::Double).double_value(&[]).sqrt()).collect()
}

//! Networks of spec §2: ConvNet-k (depth 3) and pre-activation ResNet-18-k, each in the variants
//! `standard`, `scale-invariant` and `si-affine`.
//!
//! A [`Net`] owns a flat list of named tensors, each tagged with its [`Role`]. The role is decided
//! once, when the network is built (see [`conv_role`]); everything else (optimizer, metrics,
//! checkpoints) asks the net for its SI group instead of re-deriving it. Names are those of the
//! papers' PyTorch modules (`conv_layers.0.weight`, `linear_layers.2.weight`, `layer1.0.conv1.weight`,
//! `bn1.running_mean`, ...) so a checkpoint loads into PyTorch by name.

mod convnet;
mod resnet;

use crate::config::{Arch, Loss, ModelConfig, Variant};
use crate::data::{rng, streams};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Reduction, Tensor};

/// What a tensor is to the training dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Member of the scale-invariant group: the loss is invariant to scaling all of them jointly.
    Si,
    /// Trained, not scale-invariant (BN affine, last layer in `standard`/`si-affine`).
    Trained,
    /// A parameter that is never trained (the fixed last layer of the `scale-invariant` variant).
    Frozen,
    /// A BatchNorm buffer (running statistics), not a parameter.
    Buffer,
}

/// One named tensor of a network.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub tensor: Tensor,
    pub role: Role,
}

pub use crate::store::NamedTensors;

/// Errors of loading weights into a network.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("missing tensor `{0}`")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {got:?}, expected {expected:?}")]
    Shape { name: String, got: Vec<i64>, expected: Vec<i64> },
}

/// How BatchNorm normalizes in a forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BnMode {
    /// Batch statistics, and update the running statistics (a training step).
    Train,
    /// Batch statistics without touching the running statistics (measuring in train mode).
    TrainFrozenStats,
    /// Running statistics (evaluation).
    Eval,
}

impl BnMode {
    /// How a measurement names it: `train` (batch statistics) or `eval` (running statistics).
    pub fn name(self) -> &'static str {
        match self {
            BnMode::Eval => "eval",
            _ => "train",
        }
    }
}

impl From<crate::config::CurvatureBn> for BnMode {
    fn from(b: crate::config::CurvatureBn) -> BnMode {
        match b {
            crate::config::CurvatureBn::Train => BnMode::TrainFrozenStats,
            crate::config::CurvatureBn::Eval => BnMode::Eval,
        }
    }
}

/// The SI rule, in one place: is a conv weight (and its bias) in the scale-invariant group?
///
/// In `scale-invariant` and `si-affine` every conv is followed, directly or through the residual
/// sum, by a BatchNorm, so all conv weights together form the SI group (scaling them all by c scales
/// every BN input by c). In `standard`, ConvNet's convs (weight and bias) each feed a BN only, so
/// they are SI too; ResNet's residual stream reaches the classifier without a final BN, so only
/// convs whose output goes straight into a BN (each block's `conv1`) are SI.
pub fn conv_role(arch: Arch, variant: Variant, feeds_bn_only: bool) -> Role {
    match (arch, variant) {
        (_, Variant::ScaleInvariant | Variant::SiAffine) => Role::Si,
        (Arch::Convnet, Variant::Standard) => Role::Si,
        (Arch::Resnet18, Variant::Standard) => {
            if feeds_bn_only {
                Role::Si
            } else {
                Role::Trained
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Conv {
    weight: usize,
    bias: Option<usize>,
    stride: i64,
    padding: i64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Bn {
    weight: Option<usize>,
    bias: Option<usize>,
    mean: usize,
    var: usize,
    count: usize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Linear {
    weight: usize,
    bias: Option<usize>,
}

/// Builds the parameter list with PyTorch's default initialisation, drawn from explicit seeds.
pub(crate) struct Builder {
    params: Vec<Param>,
    rng: ChaCha8Rng,
    last_rng: ChaCha8Rng,
    kind: Kind,
    device: Device,
}

impl Builder {
    fn push(&mut self, name: String, t: Tensor, role: Role) -> usize {
        let t = t.to_kind(self.kind).to_device(self.device);
        let t = if matches!(role, Role::Si | Role::Trained) { t.set_requires_grad(true) } else { t };
        self.params.push(Param { name, tensor: t, role });
        self.params.len() - 1
    }
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`: kaiming-uniform with a = sqrt(5), PyTorch's default
    /// for conv and linear weights, and its default for their biases.
    fn uniform(r: &mut ChaCha8Rng, shape: &[i64], fan_in: i64) -> Tensor {
        let b = 1.0 / (fan_in as f64).sqrt();
        let n: i64 = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| r.random_range(-b..b)).collect();
        Tensor::from_slice(&v).view(shape)
    }
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn conv(
        &mut self,
        name: &str,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        bias: bool,
        role: Role,
    ) -> Conv {
        let fan_in = cin * k * k;
        let w = Self::uniform(&mut self.rng, &[cout, cin, k, k], fan_in);
        let weight = self.push(format!("{name}.weight"), w, role);
        let bias = bias.then(|| {
            let b = Self::uniform(&mut self.rng, &[cout], fan_in);
            self.push(format!("{name}.bias"), b, role)
        });
        Conv { weight, bias, stride, padding: k / 2 }
    }
    pub(crate) fn bn(&mut self, name: &str, c: i64, affine: bool) -> Bn {
        let (weight, bias) = if affine {
            (
                Some(self.push(
                    format!("{name}.weight"),
                    Tensor::ones([c], (Kind::Double, Device::Cpu)),
                    Role::Trained,
                )),
                Some(self.push(format!("{name}.bias"), Tensor::zeros([c], (Kind::Double, Device::Cpu)), Role::Trained)),
            )
        } else {
            (None, None)
        };
        let mean =
            self.push(format!("{name}.running_mean"), Tensor::zeros([c], (Kind::Double, Device::Cpu)), Role::Buffer);
        let var =
            self.push(format!("{name}.running_var"), Tensor::ones([c], (Kind::Double, Device::Cpu)), Role::Buffer);
        let cnt = Tensor::zeros([], (Kind::Int64, Device::Cpu)).to_device(self.device);
        self.params.push(Param { name: format!("{name}.num_batches_tracked"), tensor: cnt, role: Role::Buffer });
        Bn { weight, bias, mean, var, count: self.params.len() - 1 }
    }
    /// The classifier, drawn from its own seed; rescaled to Frobenius norm `norm` when `norm > 0`.
    pub(crate) fn linear(&mut self, name: &str, fin: i64, fout: i64, bias: bool, norm: f64, role: Role) -> Linear {
        let mut w = Self::uniform(&mut self.last_rng, &[fout, fin], fin);
        if norm > 0.0 {
            w = &w * (norm / w.norm().double_value(&[]));
        }
        let weight = self.push(format!("{name}.weight"), w, role);
        let bias = bias.then(|| {
            let b = Self::uniform(&mut self.last_rng, &[fout], fin);
            self.push(format!("{name}.bias"), b, role)
        });
        Linear { weight, bias }
    }
}

#[derive(Debug)]
enum Graph {
    Convnet(convnet::ConvNet),
    Resnet(resnet::ResNet),
}

/// A network: named tensors with roles, and the graph that uses them.
#[derive(Debug)]
pub struct Net {
    pub config: ModelConfig,
    pub classes: usize,
    params: Vec<Param>,
    graph: Graph,
}

impl Net {
    /// Build with PyTorch default init: conv/BN from `seed`, the classifier from
    /// `config.last_layer_seed`. `kind` is `Float` for training, `Double` for exact tests.
    pub fn new(config: &ModelConfig, classes: usize, seed: u64, kind: Kind, device: Device) -> Net {
        let mut b = Builder {
            params: vec![],
            rng: rng(seed, streams::INIT),
            last_rng: rng(config.last_layer_seed, streams::INIT + 1),
            kind,
            device,
        };
        let graph = match config.arch {
            Arch::Convnet => Graph::Convnet(convnet::ConvNet::build(&mut b, config, classes as i64)),
            Arch::Resnet18 => Graph::Resnet(resnet::ResNet::build(&mut b, config, classes as i64)),
        };
        Net { config: config.clone(), classes, params: b.params, graph }
    }

    /// Logits `[B, classes]` for images `[B, 3, 32, 32]`.
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Tensor {
        // On CPU, channels-last input makes oneDNN's convolutions and the BN/ReLU/pool kernels
        // that follow them 1.2-1.3x faster on ConvNet (measured, README). Same maths. Not for
        // ResNet: with channels-last input, libtorch 2.13's AVX2 kernel for the weight gradient
        // of its 1x1 shortcut convs corrupts the heap or hangs at small widths (k = 2, 4) on
        // AVX2-only CPUs; reproduced in plain PyTorch (README, Design notes).
        let cl;
        let x = if x.device() == Device::Cpu && x.dim() == 4 && matches!(self.graph, Graph::Convnet(_)) {
            cl = x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
            &cl
        } else {
            x
        };
        match &self.graph {
            Graph::Convnet(g) => g.forward(self, x, mode),
            Graph::Resnet(g) => g.forward(self, x, mode),
        }
    }

    pub(crate) fn t(&self, i: usize) -> &Tensor {
        &self.params[i].tensor
    }

    pub(crate) fn conv(&self, c: &Conv, x: &Tensor) -> Tensor {
        x.conv2d(self.t(c.weight), c.bias.map(|i| self.t(i)), [c.stride], [c.padding], [1], 1)
    }

    pub(crate) fn bn(&self, b: &Bn, x: &Tensor, mode: BnMode) -> Tensor {
        let (w, bias) = (b.weight.map(|i| self.t(i)), b.bias.map(|i| self.t(i)));
        // PyTorch BatchNorm2d defaults: momentum 0.1, unbiased running variance; eps from the config.
        match mode {
            BnMode::Train => {
                let out = x.batch_norm(
                    w,
                    bias,
                    Some(self.t(b.mean)),
                    Some(self.t(b.var)),
                    true,
                    0.1,
                    self.config.bn_eps,
                    true,
                );
                let _ = tch::no_grad(|| self.t(b.count).shallow_clone().g_add_scalar_(1));
                out
            }
            BnMode::TrainFrozenStats => {
                x.batch_norm(w, bias, None::<&Tensor>, None, true, 0.1, self.config.bn_eps, true)
            }
            BnMode::Eval => {
                x.batch_norm(w, bias, Some(self.t(b.mean)), Some(self.t(b.var)), false, 0.1, self.config.bn_eps, true)
            }
        }
    }

    pub(crate) fn linear(&self, l: &Linear, x: &Tensor) -> Tensor {
        x.linear(self.t(l.weight), l.bias.map(|i| self.t(i)))
    }

    /// All named tensors (parameters and buffers), in construction order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Tensors with a given role.
    pub fn with_role(&self, role: Role) -> Vec<&Param> {
        self.params.iter().filter(|p| p.role == role).collect()
    }

    /// The scale-invariant group.
    pub fn si(&self) -> Vec<&Tensor> {
        self.params.iter().filter(|p| p.role == Role::Si).map(|p| &p.tensor).collect()
    }

    /// Every trained tensor (SI group first, then the rest), in a stable order.
    pub fn trained(&self) -> Vec<&Param> {
        let mut v = self.with_role(Role::Si);
        v.extend(self.with_role(Role::Trained));
        v
    }

    /// rho = ||w_SI||: the norm of all SI tensors concatenated.
    pub fn rho(&self) -> f64 {
        sq_norm(&self.si()).sqrt()
    }

    /// Number of scalars in the SI group.
    pub fn si_numel(&self) -> i64 {
        self.si().iter().map(|t| t.numel() as i64).sum()
    }

    /// Copy of every named tensor (detached), e.g. the initial weights.
    pub fn snapshot(&self) -> NamedTensors {
        self.params.iter().map(|p| (p.name.clone(), p.tensor.detach().copy())).collect()
    }

    /// Check that `tensors` hold every tensor of the net under its name, with its shape (weights
    /// of another architecture, width or variant are refused before any tensor arithmetic).
    pub fn check_compatible(&self, tensors: &[(String, Tensor)]) -> Result<(), ModelError> {
        for p in &self.params {
            let src =
                tensors.iter().find(|(n, _)| *n == p.name).ok_or_else(|| ModelError::MissingTensor(p.name.clone()))?;
            if src.1.size() != p.tensor.size() {
                return Err(ModelError::Shape { name: p.name.clone(), got: src.1.size(), expected: p.tensor.size() });
            }
        }
        Ok(())
    }

    /// Overwrite tensors by name from `(name, tensor)` pairs; every tensor of the net must be given.
    pub fn load(&mut self, tensors: &[(String, Tensor)]) -> Result<(), ModelError> {
        self.check_compatible(tensors)?;
        for p in &mut self.params {
            let src = tensors.iter().find(|(n, _)| *n == p.name).expect("checked");
            tch::no_grad(|| p.tensor.copy_(&src.1));
        }
        Ok(())
    }

    pub fn device(&self) -> Device {
        self.params[0].tensor.device()
    }

    pub fn kind(&self) -> Kind {
        self.params[0].tensor.kind()
    }

    /// Clear the gradients of every trained tensor.
    pub fn zero_grad(&self) {
        for p in self.trained() {
            let mut g = p.tensor.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }
}

/// Sum of squares of a list of tensors (as one concatenated vector), as f64.
pub fn sq_norm(ts: &[&Tensor]) -> f64 {
    sq_norm_t(ts).double_value(&[])
}

/// The same as a 0-dim f64 tensor on the tensors' device, without waiting for the device.
pub fn sq_norm_t(ts: &[&Tensor]) -> Tensor {
    let dev = ts.first().map(|t| t.device()).unwrap_or(Device::Cpu);
    ts.iter().fold(Tensor::zeros([], (Kind::Double, dev)), |a, t| a + t.square().sum(Kind::Double))
}

/// The loss of spec §3: cross-entropy, or MSE `||f(x) - onehot(y)||^2 / C`, averaged over the batch.
pub fn loss(logits: &Tensor, labels: &Tensor, kind: Loss) -> Tensor {
    match kind {
        // (tch's cross_entropy_for_logits casts to f32, which would break f64 gradient checks.)
        Loss::Ce => logits.log_softmax(-1, logits.kind()).nll_loss(labels),
        Loss::Mse => {
            let c = logits.size()[1];
            let onehot = labels.one_hot(c).to_kind(logits.kind());
            // mean over B*C elements = (1/B) sum_i ||f(x_i) - e_{y_i}||^2 / C
            logits.mse_loss(&onehot, Reduction::Mean)
        }
    }
}

/// Number of correct argmax predictions.
pub fn correct(logits: &Tensor, labels: &Tensor) -> i64 {
    logits.argmax(-1, false).eq_tensor(labels).sum(Kind::Int64).int64_value(&[])
}

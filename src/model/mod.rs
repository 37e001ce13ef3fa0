//! Networks: ConvNet-k (depth 3) and pre-activation ResNet-18-k of spec §2, an MLP and a Vision
//! Transformer, with any normalization of [`NormName`] (batch, layer, group, RMS, instance,
//! weight normalization, none), each in the variants `standard`, `scale-invariant`, `si-affine`.
//!
//! A [`Net`] owns a flat list of named tensors, each tagged with its [`Role`], and its
//! scale-invariant groups ([`SiGroup`]): sets of tensors the loss is invariant to scaling
//! jointly, because they feed a normalization (and nothing else). Each architecture declares its
//! groups once, when it is built (one file per architecture, behind [`Graph`]); everything else
//! (optimizer, metrics, sharpness, landscape, checkpoints) asks the net. [`si::check`] verifies a
//! declaration numerically. Names are those of PyTorch modules (`conv_layers.0.weight`,
//! `layer1.0.conv1.weight`, `blocks.0.attn.qkv.weight`, ...) so a checkpoint loads into the
//! reference modules of `python/silab_reference.py` by name.

mod convnet;
mod mlp;
pub mod norm;
mod resnet;
pub mod scripted;
pub mod si;
mod vit;

use crate::config::{Arch, Loss, ModelConfig, NormName};
use crate::data::{rng, streams};
use norm::NormLayer;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
pub use si::SiGroup;
use tch::{Device, Kind, Reduction, Tensor};

/// What a tensor is to the training dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Member of a scale-invariant group (see [`SiGroup`]).
    Si,
    /// Trained, not scale-invariant (norm affine, last layer in `standard`/`si-affine`, ...).
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
    #[error("no tensor `{0}` in this network")]
    UnknownTensor(String),
    /// The architecture cannot take inputs of the data set's shape (checked before any tensor
    /// is built).
    #[error("model.arch = \"{arch}\" takes inputs {takes}; the data set gives {got:?}")]
    InputShape { arch: String, takes: String, got: Vec<i64> },
    /// A scripted module (`model.arch = "torchscript"`) that cannot be used as it is.
    #[error(transparent)]
    Script(#[from] scripted::ScriptError),
}

/// How BatchNorm normalizes in a forward pass (the other normalizations use the sample's own
/// statistics in every mode).
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
        // the names of `sharpness.bn_mode`, which says the same thing in a config
        let as_configured = match self {
            BnMode::Eval => crate::config::CurvatureBn::Eval,
            BnMode::Train | BnMode::TrainFrozenStats => crate::config::CurvatureBn::Train,
        };
        as_configured.name()
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

/// A layer's weight: a plain tensor, or weight-normalized `g * v / ||v||` (per output unit).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Weight {
    Plain(usize),
    Normed { g: usize, v: usize },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Conv {
    pub(crate) weight: Weight,
    pub(crate) bias: Option<usize>,
    stride: i64,
    padding: i64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Linear {
    pub(crate) weight: Weight,
    pub(crate) bias: Option<usize>,
}

/// What an architecture is: how it computes its logits from the net's tensors. Each
/// architecture is one file that builds its layers with a [`Builder`] (declaring its SI groups
/// there) and implements this.
pub(crate) trait Graph: std::fmt::Debug + Send + Sync {
    /// Logits `[B, classes]` for inputs `[B, ...]` of the shape the net was built for.
    fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor;
    /// Whether the input goes in channels-last on CPU (measured faster for the ConvNet).
    fn channels_last(&self) -> bool {
        false
    }
    /// The file the graph was read from, and its SHA-256 (a scripted module's).
    fn source(&self) -> Option<(&std::path::Path, &str)> {
        None
    }
    /// The graph as a scripted module, if it is one.
    fn as_scripted(&self) -> Option<&scripted::Scripted> {
        None
    }
}

/// Builds the parameter list with PyTorch's default initialisation, drawn from explicit seeds,
/// and the SI groups.
pub(crate) struct Builder {
    params: Vec<Param>,
    groups: Vec<SiGroup>,
    rng: ChaCha8Rng,
    last_rng: ChaCha8Rng,
    kind: Kind,
    device: Device,
    pub(crate) cfg: ModelConfig,
    /// The shape of one input (`[C, H, W]` for images), checked by [`accepts`].
    pub(crate) input: Vec<i64>,
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
    /// `N(0, std^2)` from the init stream (ViT position embedding, class token).
    pub(crate) fn normal(&mut self, name: &str, shape: &[i64], std: f64, role: Role) -> usize {
        let n: i64 = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| std * Distribution::<f64>::sample(&StandardNormal, &mut self.rng)).collect();
        self.push(name.into(), Tensor::from_slice(&v).view(shape), role)
    }
    pub(crate) fn norm_name(&self) -> NormName {
        self.cfg.norm()
    }
    /// A weight of `shape` (output units first) drawn with fan-in `fan_in`; weight-normalized
    /// (`name.weight_g`, `name.weight_v`, `g = ||v||` per unit) when `model.norm = "weight"`.
    /// `g_role`: the role of the gain (frozen in the scale-invariant variant).
    fn weight(&mut self, name: &str, shape: &[i64], fan_in: i64, role: Role, g_role: Role, last: bool) -> Weight {
        let r = if last { &mut self.last_rng } else { &mut self.rng };
        let w = Self::uniform(r, shape, fan_in);
        if self.cfg.norm() == NormName::Weight && !last {
            let dims: Vec<i64> = (1..shape.len() as i64).collect();
            let g = w.square().sum_dim_intlist(dims.as_slice(), true, Kind::Double).sqrt();
            let v = self.push(format!("{name}.weight_v"), w, role);
            let g = self.push(format!("{name}.weight_g"), g, g_role);
            Weight::Normed { g, v }
        } else {
            Weight::Plain(self.push(format!("{name}.weight"), w, role))
        }
    }
    /// A `k x k` convolution (padding `k/2`), PyTorch's init.
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
        let g_role = self.gain_role();
        let weight = self.weight(name, &[cout, cin, k, k], fan_in, role, g_role, false);
        let bias = bias.then(|| {
            let b = Self::uniform(&mut self.rng, &[cout], fan_in);
            self.push(format!("{name}.bias"), b, Role::Trained)
        });
        Conv { weight, bias, stride, padding: k / 2 }
    }
    /// A hidden linear layer, PyTorch's init.
    pub(crate) fn linear(&mut self, name: &str, fin: i64, fout: i64, bias: bool, role: Role) -> Linear {
        let g_role = self.gain_role();
        let weight = self.weight(name, &[fout, fin], fin, role, g_role, false);
        let bias = bias.then(|| {
            let b = Self::uniform(&mut self.rng, &[fout], fin);
            self.push(format!("{name}.bias"), b, Role::Trained)
        });
        Linear { weight, bias }
    }
    /// The classifier, drawn from its own seed; rescaled to Frobenius norm `norm` when `norm > 0`.
    pub(crate) fn classifier(&mut self, name: &str, fin: i64, fout: i64, bias: bool, norm: f64, role: Role) -> Linear {
        let mut w = Self::uniform(&mut self.last_rng, &[fout, fin], fin);
        if norm > 0.0 {
            w = &w * (norm / w.norm().double_value(&[]));
        }
        let weight = Weight::Plain(self.push(format!("{name}.weight"), w, role));
        let bias = bias.then(|| {
            let b = Self::uniform(&mut self.last_rng, &[fout], fin);
            self.push(format!("{name}.bias"), b, role)
        });
        Linear { weight, bias }
    }
    /// The gain of weight normalization: trained but in the scale-invariant variant.
    fn gain_role(&self) -> Role {
        if self.cfg.variant == crate::config::Variant::ScaleInvariant { Role::Frozen } else { Role::Trained }
    }
    /// The configured normalization over `c` features (`spatial`: of feature maps), or `None`
    /// for weight normalization and `none`.
    pub(crate) fn norm(&mut self, name: &str, c: i64, affine: bool, spatial: bool) -> Option<NormLayer> {
        NormLayer::build(self, self.cfg.norm(), name, c, affine, spatial)
    }
    /// A normalization of a given kind (the ViT's LayerNorms whatever `model.norm` says of the
    /// rest).
    pub(crate) fn norm_of(&mut self, kind: NormName, name: &str, c: i64, affine: bool) -> Option<NormLayer> {
        NormLayer::build(self, kind, name, c, affine, false)
    }
    pub(crate) fn zeros(&mut self, name: String, c: i64, role: Role) -> usize {
        self.push(name, Tensor::zeros([c], (Kind::Double, Device::Cpu)), role)
    }
    pub(crate) fn ones(&mut self, name: String, c: i64, role: Role) -> usize {
        self.push(name, Tensor::ones([c], (Kind::Double, Device::Cpu)), role)
    }
    pub(crate) fn counter(&mut self, name: String) -> usize {
        let cnt = Tensor::zeros([], (Kind::Int64, Device::Cpu)).to_device(self.device);
        self.params.push(Param { name, tensor: cnt, role: Role::Buffer });
        self.params.len() - 1
    }
    /// Declare an SI group: the loss is invariant to scaling these tensors jointly. Their role
    /// becomes [`Role::Si`].
    pub(crate) fn declare(&mut self, name: impl Into<String>, members: &[usize]) {
        for &m in members {
            self.params[m].role = Role::Si;
        }
        self.groups.push(SiGroup { name: name.into(), params: members.to_vec() });
    }
    /// The tensors a layer's scale lives in: its direction (weight or `v`) and, unless weight
    /// normalized, its bias.
    pub(crate) fn scaled(&self, weight: Weight, bias: Option<usize>) -> Vec<usize> {
        match weight {
            Weight::Plain(w) => std::iter::once(w).chain(bias).collect(),
            Weight::Normed { v, .. } => vec![v],
        }
    }
}

/// A network: named tensors with roles, its SI groups, and the graph that uses them.
#[derive(Debug)]
pub struct Net {
    pub config: ModelConfig,
    pub classes: usize,
    params: Vec<Param>,
    groups: Vec<SiGroup>,
    graph: Box<dyn Graph>,
    /// The shape of one input it was built for.
    input: Vec<i64>,
}

/// The shape of one built-in image (synthetic, MNIST, CIFAR): `[3, 32, 32]`.
pub const IMAGE_32: [i64; 3] = [3, 32, 32];

/// Check, before anything is built, that `config.arch` takes inputs of shape `input` (one
/// example, without the batch axis): ConvNet and ResNet-18 `[C, 32, 32]` (three halvings, then a
/// 4 x 4 pool to 1 x 1), the MLP any shape (flattened), the ViT `[C, H, W]` with `model.patch`
/// dividing H and W.
pub fn accepts(config: &ModelConfig, input: &[i64]) -> Result<(), ModelError> {
    let err = |takes: String| ModelError::InputShape { arch: config.arch.name().into(), takes, got: input.to_vec() };
    let positive = !input.is_empty() && input.iter().all(|&d| d > 0);
    match config.arch {
        Arch::Mlp if positive => Ok(()),
        Arch::Mlp => Err(err("of any shape [...] with no empty axis".into())),
        Arch::Convnet | Arch::Resnet18 if positive && input.len() == 3 && input[1] == 32 && input[2] == 32 => Ok(()),
        Arch::Convnet | Arch::Resnet18 => Err(err("[C, 32, 32] (images of 32 x 32 pixels, any channels)".into())),
        Arch::Vit if positive && input.len() == 3 && input[1] % config.patch == 0 && input[2] % config.patch == 0 => {
            Ok(())
        }
        Arch::Vit => Err(err(format!("[C, H, W] with H and W multiples of model.patch = {}", config.patch))),
        // a scripted module says what it takes when it is loaded and run on a batch
        Arch::Torchscript => Ok(()),
    }
}

impl Net {
    /// Build for the built-in images `[3, 32, 32]` ([`Net::for_input`] for other inputs), with
    /// PyTorch default init: hidden layers from `seed`, the classifier from
    /// `config.last_layer_seed`. `kind` is `Float` for training, `Double` for exact tests.
    pub fn new(config: &ModelConfig, classes: usize, seed: u64, kind: Kind, device: Device) -> Net {
        Net::for_input(config, classes, &IMAGE_32, seed, kind, device).expect("every architecture takes [3, 32, 32]")
    }

    /// Build for inputs of shape `input` (one example: `[C, H, W]` images, `[D]` vectors, ...),
    /// refused by [`accepts`] when the architecture cannot take it.
    pub fn for_input(
        config: &ModelConfig,
        classes: usize,
        input: &[i64],
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Net, ModelError> {
        accepts(config, input)?;
        let mut b = Builder {
            params: vec![],
            groups: vec![],
            rng: rng(seed, streams::INIT),
            last_rng: rng(config.last_layer_seed, streams::INIT + 1),
            kind,
            device,
            cfg: config.clone(),
            input: input.to_vec(),
        };
        let c = classes as i64;
        let graph: Box<dyn Graph> = match config.arch {
            Arch::Convnet => Box::new(convnet::ConvNet::build(&mut b, c)),
            Arch::Resnet18 => Box::new(resnet::ResNet::build(&mut b, c)),
            Arch::Mlp => Box::new(mlp::Mlp::build(&mut b, c)),
            Arch::Vit => Box::new(vit::Vit::build(&mut b, c)),
            Arch::Torchscript => {
                panic!("a scripted module is loaded with Net::from_config (it can fail), not Net::new")
            }
        };
        let net = Net { config: config.clone(), classes, params: b.params, groups: b.groups, graph, input: b.input };
        if config.init_scale != 1.0 {
            tch::no_grad(|| {
                for t in net.si() {
                    let _ = t.shallow_clone().g_mul_scalar_(config.init_scale);
                }
            });
        }
        Ok(net)
    }

    /// The network of `config` for inputs of `input_shape` (one example) and `classes`: a
    /// built-in architecture ([`Net::for_input`]), or the scripted module of `model.file` (its
    /// weights as saved; `seed` and `model.init_scale` apply to built-in ones only).
    pub fn from_config(
        config: &ModelConfig,
        input_shape: &[i64],
        classes: usize,
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Net, ModelError> {
        if config.arch != Arch::Torchscript {
            return Net::for_input(config, classes, input_shape, seed, kind, device);
        }
        let o = scripted::LoadOptions {
            input_shape: input_shape.to_vec(),
            classes: Some(classes),
            kind,
            device,
            zero_eps: false,
        };
        Ok(scripted::load(config, &o)?)
    }

    /// Logits `[B, classes]` for inputs `[B, ...]` of the shape the net was built for.
    pub fn forward(&self, x: &Tensor, mode: BnMode) -> Tensor {
        // On CPU, channels-last input makes oneDNN's convolutions and the BN/ReLU/pool kernels
        // that follow them 1.2-1.3x faster on ConvNet (measured, README). Same maths. Not for
        // ResNet: with channels-last input, libtorch 2.13's AVX2 kernel for the weight gradient
        // of its 1x1 shortcut convs corrupts the heap or hangs at small widths (k = 2, 4) on
        // AVX2-only CPUs; reproduced in plain PyTorch (README, Design notes).
        let cl;
        let x = if x.device() == Device::Cpu && x.dim() == 4 && self.graph.channels_last() {
            cl = x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
            &cl
        } else {
            x
        };
        self.graph.forward(self, x, mode)
    }

    /// The shape of one input the net takes (`[3, 32, 32]` for the built-in images).
    pub fn input_shape(&self) -> &[i64] {
        &self.input
    }

    /// The file a scripted net was read from and its SHA-256 (`None` for a built-in one).
    pub fn source(&self) -> Option<(&std::path::Path, &str)> {
        self.graph.source()
    }

    /// The graph of a scripted net, to run it directly.
    pub(crate) fn scripted(&self) -> Option<&scripted::Scripted> {
        self.graph.as_scripted()
    }

    pub(crate) fn t(&self, i: usize) -> &Tensor {
        &self.params[i].tensor
    }

    /// A layer's effective weight: the tensor, or `g * v / ||v||` per output unit.
    pub(crate) fn weight(&self, w: Weight) -> Tensor {
        match w {
            Weight::Plain(i) => self.t(i).shallow_clone(),
            Weight::Normed { g, v } => {
                let v = self.t(v);
                let dims: Vec<i64> = (1..v.dim() as i64).collect();
                let n = v.square().sum_dim_intlist(dims.as_slice(), true, v.kind()).sqrt();
                v * (self.t(g) / n)
            }
        }
    }

    pub(crate) fn conv(&self, c: &Conv, x: &Tensor) -> Tensor {
        x.conv2d(&self.weight(c.weight), c.bias.map(|i| self.t(i)), [c.stride], [c.padding], [1], 1)
    }

    pub(crate) fn linear(&self, l: &Linear, x: &Tensor) -> Tensor {
        x.linear(&self.weight(l.weight), l.bias.map(|i| self.t(i)))
    }

    /// Apply a normalization layer, if any (weight normalization and `none` have none).
    pub(crate) fn norm(&self, n: &Option<NormLayer>, x: &Tensor, mode: BnMode) -> Tensor {
        match n {
            Some(n) => n.forward(self, x, mode),
            None => x.shallow_clone(),
        }
    }

    /// All named tensors (parameters and buffers), in construction order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Tensors with a given role.
    pub fn with_role(&self, role: Role) -> Vec<&Param> {
        self.params.iter().filter(|p| p.role == role).collect()
    }

    /// The SI groups, as declared by the architecture (every [`Role::Si`] tensor is in one).
    pub fn si_groups(&self) -> &[SiGroup] {
        &self.groups
    }

    /// The tensors of an SI group.
    pub fn group_tensors(&self, g: &SiGroup) -> Vec<&Tensor> {
        g.params.iter().map(|&i| &self.params[i].tensor).collect()
    }

    /// Replace the SI declaration (for experiments with a network's structure, and for
    /// [`si::check`] to be tested on wrong declarations): each group `(name, tensor names)`.
    /// Tensors in no group become trained non-SI parameters.
    pub fn declare_si_groups(&mut self, groups: &[(String, Vec<String>)]) -> Result<(), ModelError> {
        let mut new = vec![];
        for (name, members) in groups {
            let idx = members
                .iter()
                .map(|m| self.params.iter().position(|p| p.name == *m).ok_or(ModelError::UnknownTensor(m.clone())))
                .collect::<Result<Vec<_>, _>>()?;
            new.push(SiGroup { name: name.clone(), params: idx });
        }
        for p in &mut self.params {
            if p.role == Role::Si {
                p.role = Role::Trained;
            }
        }
        for g in &new {
            for &i in &g.params {
                self.params[i].role = Role::Si;
                // in place: a scripted module computes with these very tensors
                self.params[i].tensor = self.params[i].tensor.set_requires_grad(true);
            }
        }
        self.groups = new;
        Ok(())
    }

    /// All SI tensors (every group's, in construction order): the global SI group.
    pub fn si(&self) -> Vec<&Tensor> {
        self.params.iter().filter(|p| p.role == Role::Si).map(|p| &p.tensor).collect()
    }

    /// Whether the net has scale-invariant tensors at all (`model.norm = "none"` has none).
    pub fn has_si(&self) -> bool {
        !self.groups.is_empty()
    }

    /// Every trained tensor (SI group first, then the rest), in a stable order.
    pub fn trained(&self) -> Vec<&Param> {
        let mut v = self.with_role(Role::Si);
        v.extend(self.with_role(Role::Trained));
        v
    }

    /// rho = ||w_SI||: the norm of all SI tensors concatenated (NaN without SI tensors).
    pub fn rho(&self) -> f64 {
        if self.has_si() { sq_norm(&self.si()).sqrt() } else { f64::NAN }
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

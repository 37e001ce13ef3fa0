//! The `[model]` section: architecture, width, normalization and which parameters are SI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Network architecture.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// ConvNet-k of depth 3 (spec §2).
    Convnet,
    /// Pre-activation ResNet-18-k.
    Resnet18,
    /// flatten -> [Linear -> norm -> ReLU] x `depth` -> Linear, `width` units per hidden layer.
    Mlp,
    /// Vision Transformer: patch embedding, pre-norm blocks of attention and MLP, `depth`
    /// blocks of `dim` features and `heads` heads.
    Vit,
    /// A scripted PyTorch module (`torch.jit.script(m).save(...)`) read from `model.file`: its
    /// parameters and buffers, with their PyTorch names, are the net's tensors.
    Torchscript,
}

/// The normalization of the network (`model.norm`), with PyTorch's semantics.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NormName {
    /// `batch` for ConvNet and ResNet, `layer` for MLP and ViT.
    Auto,
    /// BatchNorm (running statistics; batch statistics in training).
    Batch,
    /// LayerNorm: over the features of a sample (`GroupNorm(1, C)` for feature maps).
    Layer,
    /// GroupNorm with `model.groups` groups.
    Group,
    /// RMSNorm: divide by the root mean square over the features, scale only.
    Rms,
    /// InstanceNorm (per sample and channel; feature maps only).
    Instance,
    /// Weight normalization: each layer's weight is `g * v / ||v||` per output unit; `v` is SI.
    Weight,
    /// No normalization (nothing is scale-invariant).
    None,
}

impl NormName {
    /// Every normalization a network can resolve to (all but `auto`).
    pub const ALL: [NormName; 7] = [
        NormName::Batch,
        NormName::Layer,
        NormName::Group,
        NormName::Rms,
        NormName::Instance,
        NormName::Weight,
        NormName::None,
    ];
}

/// How a ViT pools its tokens for the classifier.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// A learned class token, prepended to the patches.
    Cls,
    /// The mean over the patch tokens.
    Mean,
}

/// Which parameters are normalized / trained (spec §2).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Conv bias on, BN affine on, every parameter trained.
    #[serde(rename = "standard")]
    Standard,
    /// Fully scale-invariant: no conv bias, BN without affine, last layer fixed at norm 10.
    #[serde(rename = "scale-invariant")]
    ScaleInvariant,
    /// As scale-invariant but BN affine on and every parameter trained.
    #[serde(rename = "si-affine")]
    SiAffine,
}

super::serde_named!(Arch, NormName, Pool, Variant);

/// One scale-invariant group of a scripted module (`[[model.si_groups]]`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SiGroupDecl {
    /// A readable name (e.g. the module path `conv_layers.0`), used in the metric columns.
    pub name: String,
    /// PyTorch parameter names or globs (`*` any run of characters, `?` one character), each
    /// matching at least one parameter; the group's tensors are scaled jointly.
    pub params: Vec<String>,
}

/// The `[model]` section.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `convnet` (ConvNet-k, depth 3), `resnet18` (pre-activation ResNet-18-k), `mlp`, `vit`, or
    /// `torchscript` (a scripted PyTorch module from `model.file`; width, variant, norm and the
    /// other shape keys do not apply to it).
    pub arch: Arch,
    /// Width factor k, 1 ... 1024 (ConvNet, ResNet); units per hidden layer, <= 65536 (MLP);
    /// unused by ViT (`dim`).
    pub width: i64,
    /// `standard`, `scale-invariant` or `si-affine` (spec §2); a ViT is `standard` or
    /// `scale-invariant`.
    pub variant: Variant,
    /// The normalization: `auto` (batch for ConvNet/ResNet, layer for MLP/ViT), `batch`,
    /// `layer`, `group`, `rms`, `instance`, `weight`, `none`; a ViT takes `layer` or `rms`.
    pub norm: NormName,
    /// `group` norm: number of groups (must divide the width, or `dim`).
    pub groups: i64,
    /// MLP: hidden layers; ViT: transformer blocks (1 ... 64).
    pub depth: i64,
    /// ViT: embedding dimension.
    pub dim: i64,
    /// ViT: attention heads (must divide `dim`).
    pub heads: i64,
    /// ViT: hidden units of each block's MLP, as a multiple of `dim`.
    pub mlp_ratio: f64,
    /// ViT: patch size (must divide 32; 4 gives 64 tokens).
    pub patch: i64,
    /// ViT: `cls` token or `mean` pooling.
    pub pool: Pool,
    /// Frobenius norm the last linear layer's weight is rescaled to at init (<= 0: not rescaled).
    pub last_layer_norm: f64,
    /// Epsilon of the normalization (every kind but weight; PyTorch's default 1e-5). Scale
    /// invariance is exact only for eps = 0: with eps > 0, BN(c*x) differs from BN(x) when
    /// c^2 * var(x) is comparable to eps.
    pub bn_eps: f64,
    /// Seed of the last layer's initialisation, separate from `seed` so that every run of a
    /// sweep shares the same last layer (as P2 does).
    pub last_layer_seed: u64,
    /// Every SI weight is multiplied by this (> 0) after initialisation: the same function, a
    /// norm (and so an effective step) that starts elsewhere.
    pub init_scale: f64,
    /// `torchscript`: the scripted module (`.pt`, relative to the working directory). Its
    /// SHA-256 is recorded in every checkpoint, so a changed file is refused on resume.
    pub file: String,
    /// `torchscript`: the scale-invariant groups, each verified numerically before training.
    /// Empty: the groups of the manifest beside the file (`net.silab.toml` for `net.pt`), else
    /// none (full mode only; `silab check-si --propose` finds them).
    pub si_groups: Vec<SiGroupDecl>,
    /// `torchscript`: parameters (names or globs) never trained, besides those saved with
    /// `requires_grad = False`. Empty: the manifest's `frozen`, if any.
    pub frozen: Vec<String>,
}

impl ModelConfig {
    /// The normalization actually used (`auto` resolved by architecture).
    pub fn norm(&self) -> NormName {
        match (self.norm, self.arch) {
            (NormName::Auto, Arch::Convnet | Arch::Resnet18) => NormName::Batch,
            (NormName::Auto, Arch::Mlp | Arch::Vit) => NormName::Layer,
            (n, _) => n,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            arch: Arch::Convnet,
            width: 8,
            variant: Variant::ScaleInvariant,
            norm: NormName::Auto,
            groups: 2,
            depth: 3,
            dim: 64,
            heads: 4,
            mlp_ratio: 2.0,
            patch: 4,
            pool: Pool::Cls,
            last_layer_norm: 10.0,
            bn_eps: 1e-5,
            last_layer_seed: 0,
            init_scale: 1.0,
            file: String::new(),
            si_groups: vec![],
            frozen: vec![],
        }
    }
}

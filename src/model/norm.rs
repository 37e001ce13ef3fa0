//! Normalization layers with PyTorch's semantics and names (`NAME.weight`, `NAME.bias`,
//! `NAME.running_mean`, ...):
//!
//! | `model.norm` | feature maps `[B, C, H, W]` | vectors `[B, D]` / tokens `[B, N, D]` |
//! |---|---|---|
//! | `batch` | `BatchNorm2d(C)` | `BatchNorm1d(D)` |
//! | `layer` | `GroupNorm(1, C)` (LayerNorm over C, H, W; affine per channel) | `LayerNorm(D)` |
//! | `group` | `GroupNorm(G, C)` | `GroupNorm(G, D)` |
//! | `rms` | `x / sqrt(mean(x^2 over C, H, W) + eps)`, scale per channel | `RMSNorm(D)` |
//! | `instance` | `InstanceNorm2d(C)` (no running statistics) | — |
//!
//! `eps` is `model.bn_eps` for all of them; only BatchNorm has running statistics (momentum 0.1,
//! unbiased running variance). With `affine` off there is no weight or bias (RMS has no bias).

use super::{BnMode, Builder, Net, Role};
use crate::config::NormName;
use tch::Tensor;

/// One normalization layer: its kind and the indices of its tensors in the net.
#[derive(Clone, Copy, Debug)]
pub struct NormLayer {
    kind: NormName,
    weight: Option<usize>,
    bias: Option<usize>,
    /// BatchNorm: running mean, running variance, batches seen.
    stats: Option<(usize, usize, usize)>,
    groups: i64,
    spatial: bool,
}

impl NormLayer {
    /// Build a normalization of `kind` over `c` features; `None` for `weight` and `none`, which
    /// have no normalization layer.
    pub(crate) fn build(
        b: &mut Builder,
        kind: NormName,
        name: &str,
        c: i64,
        affine: bool,
        spatial: bool,
    ) -> Option<NormLayer> {
        let kind = match kind {
            NormName::Auto => b.norm_name(),
            k => k,
        };
        if matches!(kind, NormName::Weight | NormName::None) {
            return None;
        }
        let (weight, bias) = if affine {
            let w = Some(b.ones(format!("{name}.weight"), c, Role::Trained));
            let bias = (kind != NormName::Rms).then(|| b.zeros(format!("{name}.bias"), c, Role::Trained));
            (w, bias)
        } else {
            (None, None)
        };
        let stats = (kind == NormName::Batch).then(|| {
            let mean = b.zeros(format!("{name}.running_mean"), c, Role::Buffer);
            let var = b.ones(format!("{name}.running_var"), c, Role::Buffer);
            (mean, var, b.counter(format!("{name}.num_batches_tracked")))
        });
        let groups = match kind {
            NormName::Group => b.cfg.groups,
            _ => 1,
        };
        Some(NormLayer { kind, weight, bias, stats, groups, spatial })
    }

    pub(crate) fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let (w, b) = (self.weight.map(|i| net.t(i)), self.bias.map(|i| net.t(i)));
        let eps = net.config.bn_eps;
        match self.kind {
            NormName::Batch => {
                let (mean, var, count) = self.stats.expect("BatchNorm has running statistics");
                let (m, v) = (net.t(mean), net.t(var));
                // PyTorch defaults: momentum 0.1, unbiased running variance.
                match mode {
                    BnMode::Train => {
                        let out = x.batch_norm(w, b, Some(m), Some(v), true, 0.1, eps, true);
                        let _ = tch::no_grad(|| net.t(count).shallow_clone().g_add_scalar_(1));
                        out
                    }
                    BnMode::TrainFrozenStats => x.batch_norm(w, b, None::<&Tensor>, None, true, 0.1, eps, true),
                    BnMode::Eval => x.batch_norm(w, b, Some(m), Some(v), false, 0.1, eps, true),
                }
            }
            NormName::Layer if !self.spatial => {
                let d = *x.size().last().expect("a feature dimension");
                x.layer_norm([d], w, b, eps, true)
            }
            NormName::Layer | NormName::Group => {
                if self.spatial || x.dim() == 2 {
                    x.group_norm(self.groups, w, b, eps, true)
                } else {
                    // tokens [B, N, D]: GroupNorm wants the channels second
                    x.transpose(1, 2).group_norm(self.groups, w, b, eps, true).transpose(1, 2)
                }
            }
            NormName::Rms => {
                if self.spatial {
                    let ms = x.square().mean_dim([1i64, 2, 3].as_slice(), true, x.kind());
                    let y = x / (ms + eps).sqrt();
                    match w {
                        Some(w) => y * w.view([1, -1, 1, 1]),
                        None => y,
                    }
                } else {
                    let ms = x.square().mean_dim([-1i64].as_slice(), true, x.kind());
                    let y = x / (ms + eps).sqrt();
                    match w {
                        Some(w) => y * w,
                        None => y,
                    }
                }
            }
            NormName::Instance => x.instance_norm(w, b, None::<&Tensor>, None, true, 0.1, eps, true),
            NormName::Auto | NormName::Weight | NormName::None => unreachable!("no layer for {:?}", self.kind),
        }
    }
}

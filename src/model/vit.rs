//! Vision Transformer (pre-norm, as timm's `VisionTransformer`): a `patch x patch` convolution
//! embeds the image `[C, H, W]` into `(H / patch) * (W / patch)` tokens of `dim` features, a learned position embedding
//! is added (and a class token prepended with `pool = "cls"`), then `depth` blocks
//! `x += attn(norm1(x)); x += mlp(norm2(x))`, a final norm, and the `head` on the class token
//! (or the mean token). Attention: `heads` heads, `qkv` and `proj` linears with biases; MLP:
//! `fc1` (`dim -> mlp_ratio * dim`), exact GELU, `fc2`. Names as timm's:
//! `patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.{i}.norm1`, `blocks.{i}.attn.qkv`,
//! `blocks.{i}.attn.proj`, `blocks.{i}.norm2`, `blocks.{i}.mlp.fc1`, `blocks.{i}.mlp.fc2`, `norm`,
//! `head`. Init: PyTorch's defaults for the linears and the patch convolution; position
//! embedding and class token `N(0, 0.02^2)`.
//!
//! Variant `scale-invariant`: the ViT of Sadrtdinov, Kodryan et al. (NeurIPS 2024, "Where do
//! large learning rates lead us?"), whose feed-forward linears are each followed by a LayerNorm
//! (`blocks.{i}.mlp.norm_fc1` after `fc1`, `blocks.{i}.mlp.norm_fc2` after `fc2`).
//!
//! SI groups. `scale-invariant`: each `fc1` and each `fc2` (weight and bias) feeds its own
//! LayerNorm only: one group each (`blocks.0.mlp.fc1`, ...). The attention projections and the
//! embeddings are not SI (softmax and the residual stream see their scale). `standard`: every
//! normalization reads the residual stream, so the tensors that write it — patch embedding,
//! class token, position embedding, and every block's `attn.proj` and `mlp.fc2` — are jointly
//! scale-invariant: one group, `residual`. `qkv` (softmax) and `fc1` (GELU) are not SI.

use super::norm::NormLayer;
use super::{BnMode, Builder, Conv, Graph, Linear, Net, Role};
use crate::config::{Pool, Variant};
use tch::Tensor;

#[derive(Debug)]
struct Block {
    norm1: Option<NormLayer>,
    qkv: Linear,
    proj: Linear,
    norm2: Option<NormLayer>,
    fc1: Linear,
    norm_fc1: Option<NormLayer>,
    fc2: Linear,
    norm_fc2: Option<NormLayer>,
}

#[derive(Debug)]
pub(crate) struct Vit {
    patch: Conv,
    cls: Option<usize>,
    pos: usize,
    blocks: Vec<Block>,
    norm: Option<NormLayer>,
    head: Linear,
    heads: i64,
}

impl Vit {
    pub(crate) fn build(b: &mut Builder, classes: i64) -> Vit {
        let (d, p, depth, heads) = (b.cfg.dim, b.cfg.patch, b.cfg.depth, b.cfg.heads);
        let hidden = ((d as f64) * b.cfg.mlp_ratio).round().max(1.0) as i64;
        let si = b.cfg.variant == Variant::ScaleInvariant;
        let norm = b.norm_name();
        let tokens = (b.input[1] / p) * (b.input[2] / p);
        let patch = b.conv_strided("patch_embed.proj", b.input[0], d, p);
        let cls = (b.cfg.pool == Pool::Cls).then(|| b.normal("cls_token", &[1, 1, d], 0.02, Role::Trained));
        let n = tokens + i64::from(cls.is_some());
        let pos = b.normal("pos_embed", &[1, n, d], 0.02, Role::Trained);
        let mut residual: Vec<usize> = b.scaled(patch.weight, patch.bias);
        residual.extend(cls);
        residual.push(pos);
        let mut blocks = vec![];
        for i in 0..depth {
            let q = format!("blocks.{i}");
            let norm1 = b.norm_of(norm, &format!("{q}.norm1"), d, true);
            let qkv = b.linear(&format!("{q}.attn.qkv"), d, 3 * d, true, Role::Trained);
            let proj = b.linear(&format!("{q}.attn.proj"), d, d, true, Role::Trained);
            let norm2 = b.norm_of(norm, &format!("{q}.norm2"), d, true);
            let fc1 = b.linear(&format!("{q}.mlp.fc1"), d, hidden, true, Role::Trained);
            let norm_fc1 = if si { b.norm_of(norm, &format!("{q}.mlp.norm_fc1"), hidden, true) } else { None };
            let fc2 = b.linear(&format!("{q}.mlp.fc2"), hidden, d, true, Role::Trained);
            let norm_fc2 = if si { b.norm_of(norm, &format!("{q}.mlp.norm_fc2"), d, true) } else { None };
            if si {
                for (name, l) in [("fc1", &fc1), ("fc2", &fc2)] {
                    let m = b.scaled(l.weight, l.bias);
                    b.declare(format!("{q}.mlp.{name}"), &m);
                }
            } else {
                residual.extend(b.scaled(proj.weight, proj.bias));
                residual.extend(b.scaled(fc2.weight, fc2.bias));
            }
            blocks.push(Block { norm1, qkv, proj, norm2, fc1, norm_fc1, fc2, norm_fc2 });
        }
        if !si {
            b.declare("residual", &residual);
        }
        let norm = b.norm_of(norm, "norm", d, true);
        let head = b.classifier("head", d, classes, true, 0.0, Role::Trained);
        Vit { patch, cls, pos, blocks, norm, head, heads }
    }

    /// Multi-head self-attention of tokens `[B, N, D]` (explicit matmuls and softmax: exact
    /// double backward for Hessian-vector products).
    fn attention(&self, net: &Net, blk: &Block, x: &Tensor) -> Tensor {
        let (b, n, d) = (x.size()[0], x.size()[1], x.size()[2]);
        let h = self.heads;
        let qkv = net.linear(&blk.qkv, x).view([b, n, 3, h, d / h]).permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let scale = 1.0 / ((d / h) as f64).sqrt();
        let att = (q.matmul(&k.transpose(-2, -1)) * scale).softmax(-1, x.kind());
        let out = att.matmul(&v).transpose(1, 2).reshape([b, n, d]);
        net.linear(&blk.proj, &out)
    }
}

impl Builder {
    /// The patch embedding: a `p x p` convolution with stride `p` and a bias.
    fn conv_strided(&mut self, name: &str, cin: i64, cout: i64, p: i64) -> Conv {
        let mut c = self.conv(name, cin, cout, p, p, true, Role::Trained);
        c.padding = 0;
        c
    }
}

impl Graph for Vit {
    // `h = h + ..` on purpose: tch's `+=` is in place, and autograd needs the old `h`.
    #[allow(clippy::assign_op_pattern)]
    fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let t = net.conv(&self.patch, x).flatten(2, -1).transpose(1, 2); // [B, N, D]
        let b = t.size()[0];
        let mut h = match self.cls {
            Some(c) => Tensor::cat(&[net.t(c).expand([b, -1, -1], false), t], 1),
            None => t,
        };
        h = h + net.t(self.pos);
        for blk in &self.blocks {
            h = &h + self.attention(net, blk, &net.norm(&blk.norm1, &h, mode));
            let m = net.norm(&blk.norm_fc1, &net.linear(&blk.fc1, &net.norm(&blk.norm2, &h, mode)), mode);
            let m = net.norm(&blk.norm_fc2, &net.linear(&blk.fc2, &m.gelu("none")), mode);
            h = h + m;
        }
        let h = net.norm(&self.norm, &h, mode);
        let pooled = match self.cls {
            Some(_) => h.select(1, 0),
            None => h.mean_dim([1i64].as_slice(), false, h.kind()),
        };
        net.linear(&self.head, &pooled)
    }
}

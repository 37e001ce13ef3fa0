//! Pre-activation ResNet-18-k (blocks [2,2,2,2], widths k, 2k, 4k, 8k), as in the papers' code.
//! SI variants add a normalization before each downsampling shortcut's 1x1 conv (`shortcut.0`
//! norm, `shortcut.1` conv) and a final normalization + ReLU before AvgPool4 and a bias-free
//! classifier.
//!
//! SI groups. Each block's `conv1` feeds `bn2` only: its own group (`layer1.0.conv1`). In the SI
//! variants the residual stream of each stage is read only through normalizations (the next
//! block's `bn1`, the next stage's shortcut norm, the final norm), so the convs that write it —
//! the stem (stage 1) or the stage's shortcut conv, and every block's `conv2` — form one group
//! per stage (`stream1` ... `stream4`). In `standard` the stream reaches the classifier
//! unnormalized: only the `conv1`s are SI. With weight normalization every conv's `weight_v` is
//! its own group.

use super::norm::NormLayer;
use super::{BnMode, Builder, Conv, Graph, Linear, Net, Role};
use crate::config::{NormName, Variant};
use tch::Tensor;

#[derive(Debug)]
struct Block {
    bn1: Option<NormLayer>,
    conv1: Conv,
    bn2: Option<NormLayer>,
    conv2: Conv,
    shortcut: Option<(Option<NormLayer>, Conv)>,
}

#[derive(Debug)]
pub(crate) struct ResNet {
    conv1: Conv,
    blocks: Vec<Block>,
    bn: Option<NormLayer>,
    linear: Linear,
}

impl ResNet {
    pub(crate) fn build(b: &mut Builder, classes: i64) -> ResNet {
        let k = b.cfg.width;
        let v = b.cfg.variant;
        let si = v != Variant::Standard;
        let affine = v != Variant::ScaleInvariant;
        let norm = b.norm_name();
        let per_conv = norm == NormName::Weight;
        let normalized = norm != NormName::None;
        let declare = |b: &mut Builder, name: String, c: &Conv| {
            if per_conv {
                let m = b.scaled(c.weight, c.bias);
                b.declare(name, &m);
            }
        };
        let conv1 = b.conv("conv1", b.input[0], k, 3, 1, false, Role::Trained);
        declare(b, "conv1".into(), &conv1);
        let mut stream: Vec<usize> = b.scaled(conv1.weight, conv1.bias);
        let mut blocks = vec![];
        let mut cin = k;
        for (l, planes, stride) in [(1, k, 1), (2, 2 * k, 2), (3, 4 * k, 2), (4, 8 * k, 2)] {
            for j in 0..2 {
                let s = if j == 0 { stride } else { 1 };
                let p = format!("layer{l}.{j}");
                let bn1 = b.norm(&format!("{p}.bn1"), cin, affine, true);
                let conv1 = b.conv(&format!("{p}.conv1"), cin, planes, 3, s, false, Role::Trained);
                declare(b, format!("{p}.conv1"), &conv1);
                if normalized && !per_conv {
                    let m = b.scaled(conv1.weight, conv1.bias);
                    b.declare(format!("{p}.conv1"), &m);
                }
                let bn2 = b.norm(&format!("{p}.bn2"), planes, affine, true);
                let conv2 = b.conv(&format!("{p}.conv2"), planes, planes, 3, 1, false, Role::Trained);
                declare(b, format!("{p}.conv2"), &conv2);
                let shortcut = (s != 1 || cin != planes).then(|| {
                    if si {
                        let sbn = b.norm(&format!("{p}.shortcut.0"), cin, affine, true);
                        (sbn, b.conv(&format!("{p}.shortcut.1"), cin, planes, 1, s, false, Role::Trained))
                    } else {
                        (None, b.conv(&format!("{p}.shortcut.0"), cin, planes, 1, s, false, Role::Trained))
                    }
                });
                if let Some((_, c)) = &shortcut {
                    let name = if si { format!("{p}.shortcut.1") } else { format!("{p}.shortcut.0") };
                    declare(b, name, c);
                    // a new stage's stream starts at its shortcut conv
                    if si && normalized && !per_conv && !stream.is_empty() {
                        let done = std::mem::take(&mut stream);
                        b.declare(format!("stream{}", l - 1), &done);
                    }
                    stream = b.scaled(c.weight, c.bias);
                }
                stream.extend(b.scaled(conv2.weight, conv2.bias));
                blocks.push(Block { bn1, conv1, bn2, conv2, shortcut });
                cin = planes;
            }
        }
        if si && normalized && !per_conv {
            b.declare("stream4", &stream);
        }
        let bn = if si { b.norm("bn", 8 * k, affine, true) } else { None };
        let last_role = if v == Variant::ScaleInvariant { Role::Frozen } else { Role::Trained };
        let linear = b.classifier("linear", 8 * k, classes, !si, b.cfg.last_layer_norm, last_role);
        ResNet { conv1, blocks, bn, linear }
    }
}

impl Graph for ResNet {
    fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let mut h = net.conv(&self.conv1, x);
        for blk in &self.blocks {
            let o = net.norm(&blk.bn1, &h, mode).relu();
            let sc = match &blk.shortcut {
                Some((sbn, c)) => net.conv(c, &net.norm(sbn, &o, mode)),
                None => h.shallow_clone(),
            };
            let o = net.conv(&blk.conv1, &o);
            let o = net.conv(&blk.conv2, &net.norm(&blk.bn2, &o, mode).relu());
            h = o + sc;
        }
        if self.bn.is_some() || net.config.variant != Variant::Standard {
            h = net.norm(&self.bn, &h, mode).relu();
        }
        // Not tch's avg_pool2d_default: it passes divisor_override = 1 (a sum, not a mean).
        let h = h.avg_pool2d([4, 4], [4, 4], [0, 0], false, true, None).flatten(1, -1);
        net.linear(&self.linear, &h)
    }
}

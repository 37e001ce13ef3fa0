//! Pre-activation ResNet-18-k (blocks [2,2,2,2], widths k, 2k, 4k, 8k), as in the papers' code.
//! SI variants add a BN before each downsampling shortcut's 1x1 conv (`shortcut.0` BN,
//! `shortcut.1` conv) and a final BN + ReLU before AvgPool4 and a bias-free classifier.

use super::{Bn, BnMode, Builder, Conv, Linear, Net, Role, conv_role};
use crate::config::{Arch, ModelConfig, Variant};
use tch::Tensor;

#[derive(Debug)]
struct Block {
    bn1: Bn,
    conv1: Conv,
    bn2: Bn,
    conv2: Conv,
    shortcut: Option<(Option<Bn>, Conv)>,
}

#[derive(Debug)]
pub(crate) struct ResNet {
    conv1: Conv,
    blocks: Vec<Block>,
    bn: Option<Bn>,
    linear: Linear,
}

impl ResNet {
    pub(crate) fn build(b: &mut Builder, cfg: &ModelConfig, classes: i64) -> ResNet {
        let k = cfg.width;
        let v = cfg.variant;
        let si = v != Variant::Standard;
        let affine = v != Variant::ScaleInvariant;
        let role = |feeds_bn_only| conv_role(Arch::Resnet18, v, feeds_bn_only);
        let conv1 = b.conv("conv1", 3, k, 3, 1, false, role(false));
        let mut blocks = vec![];
        let mut cin = k;
        for (l, planes, stride) in [(1, k, 1), (2, 2 * k, 2), (3, 4 * k, 2), (4, 8 * k, 2)] {
            for j in 0..2 {
                let s = if j == 0 { stride } else { 1 };
                let p = format!("layer{l}.{j}");
                let bn1 = b.bn(&format!("{p}.bn1"), cin, affine);
                let conv1 = b.conv(&format!("{p}.conv1"), cin, planes, 3, s, false, role(true));
                let bn2 = b.bn(&format!("{p}.bn2"), planes, affine);
                let conv2 = b.conv(&format!("{p}.conv2"), planes, planes, 3, 1, false, role(false));
                let shortcut = (s != 1 || cin != planes).then(|| {
                    if si {
                        let sbn = b.bn(&format!("{p}.shortcut.0"), cin, affine);
                        (Some(sbn), b.conv(&format!("{p}.shortcut.1"), cin, planes, 1, s, false, role(false)))
                    } else {
                        (None, b.conv(&format!("{p}.shortcut.0"), cin, planes, 1, s, false, role(false)))
                    }
                });
                blocks.push(Block { bn1, conv1, bn2, conv2, shortcut });
                cin = planes;
            }
        }
        let bn = si.then(|| b.bn("bn", 8 * k, affine));
        let last_role = if v == Variant::ScaleInvariant { Role::Frozen } else { Role::Trained };
        let linear = b.linear("linear", 8 * k, classes, !si, cfg.last_layer_norm, last_role);
        ResNet { conv1, blocks, bn, linear }
    }

    pub(crate) fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let mut h = net.conv(&self.conv1, x);
        for blk in &self.blocks {
            let o = net.bn(&blk.bn1, &h, mode).relu();
            let sc = match &blk.shortcut {
                Some((Some(sbn), c)) => net.conv(c, &net.bn(sbn, &o, mode)),
                Some((None, c)) => net.conv(c, &o),
                None => h.shallow_clone(),
            };
            let o = net.conv(&blk.conv1, &o);
            let o = net.conv(&blk.conv2, &net.bn(&blk.bn2, &o, mode).relu());
            h = o + sc;
        }
        if let Some(bn) = &self.bn {
            h = net.bn(bn, &h, mode).relu();
        }
        // Not tch's avg_pool2d_default: it passes divisor_override = 1 (a sum, not a mean).
        let h = h.avg_pool2d([4, 4], [4, 4], [0, 0], false, true, None).flatten(1, -1);
        net.linear(&self.linear, &h)
    }
}

//! ConvNet-k of depth 3 (spec §2), with the papers' module indices:
//! `conv_layers` = [conv 0, bn 1, relu 2, conv 3, bn 4, relu 5, pool 6, conv 7, bn 8, relu 9,
//! pool 10, conv 11, bn 12, relu 13, pool 14]; `linear_layers` = [maxpool4 0, flatten 1, linear 2].

use super::{Bn, BnMode, Builder, Conv, Linear, Net, Role, conv_role};
use crate::config::{Arch, ModelConfig, Variant};
use tch::Tensor;

#[derive(Debug)]
pub(crate) struct ConvNet {
    blocks: Vec<(Conv, Bn, bool)>,
    linear: Linear,
}

impl ConvNet {
    pub(crate) fn build(b: &mut Builder, cfg: &ModelConfig, classes: i64) -> ConvNet {
        let k = cfg.width;
        let v = cfg.variant;
        let (bias, affine) = match v {
            Variant::Standard => (true, true),
            Variant::ScaleInvariant => (false, false),
            Variant::SiAffine => (false, true),
        };
        let role = conv_role(Arch::Convnet, v, true);
        // (module index of the conv, in, out, max-pool after the block)
        let plan = [(0, 3, k, false), (3, k, 2 * k, true), (7, 2 * k, 4 * k, true), (11, 4 * k, 8 * k, true)];
        let blocks = plan
            .iter()
            .map(|&(i, cin, cout, pool)| {
                let conv = b.conv(&format!("conv_layers.{i}"), cin, cout, 3, 1, bias, role);
                let bn = b.bn(&format!("conv_layers.{}", i + 1), cout, affine);
                (conv, bn, pool)
            })
            .collect();
        let last_role = if v == Variant::ScaleInvariant { Role::Frozen } else { Role::Trained };
        let linear = b.linear("linear_layers.2", 8 * k, classes, true, cfg.last_layer_norm, last_role);
        ConvNet { blocks, linear }
    }

    pub(crate) fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, bn, pool) in &self.blocks {
            h = net.bn(bn, &net.conv(conv, &h), mode).relu();
            if *pool {
                h = h.max_pool2d_default(2);
            }
        }
        let h = h.max_pool2d_default(4).flatten(1, -1);
        net.linear(&self.linear, &h)
    }
}

//! ConvNet-k of depth 3 (spec §2), with the papers' module indices:
//! `conv_layers` = [conv 0, norm 1, relu 2, conv 3, norm 4, relu 5, pool 6, conv 7, norm 8, relu 9,
//! pool 10, conv 11, norm 12, relu 13, pool 14]; `linear_layers` = [maxpool4 0, flatten 1, linear 2].
//!
//! SI groups: each conv (weight, and bias in `standard`) feeds its normalization only, so each
//! is its own group, named by the conv (`conv_layers.0`); with weight normalization each conv's
//! `weight_v`. The global SI group is their union, as in the papers.

use super::norm::NormLayer;
use super::{BnMode, Builder, Conv, Graph, Linear, Net, Role};
use crate::config::{NormName, Variant};
use tch::Tensor;

#[derive(Debug)]
pub(crate) struct ConvNet {
    blocks: Vec<(Conv, Option<NormLayer>, bool)>,
    linear: Linear,
}

impl ConvNet {
    pub(crate) fn build(b: &mut Builder, classes: i64) -> ConvNet {
        let k = b.cfg.width;
        let v = b.cfg.variant;
        let (bias, affine) = match v {
            Variant::Standard => (true, true),
            Variant::ScaleInvariant => (false, false),
            Variant::SiAffine => (false, true),
        };
        let normalized = b.norm_name() != NormName::None;
        // (module index of the conv, in, out, max-pool after the block)
        let c = b.input[0];
        let plan = [(0, c, k, false), (3, k, 2 * k, true), (7, 2 * k, 4 * k, true), (11, 4 * k, 8 * k, true)];
        let mut blocks = vec![];
        for (i, cin, cout, pool) in plan {
            let name = format!("conv_layers.{i}");
            let conv = b.conv(&name, cin, cout, 3, 1, bias, Role::Trained);
            if normalized {
                let members = b.scaled(conv.weight, conv.bias);
                b.declare(name, &members);
            }
            let norm = b.norm(&format!("conv_layers.{}", i + 1), cout, affine, true);
            blocks.push((conv, norm, pool));
        }
        let last_role = if v == Variant::ScaleInvariant { Role::Frozen } else { Role::Trained };
        let linear = b.classifier("linear_layers.2", 8 * k, classes, true, b.cfg.last_layer_norm, last_role);
        ConvNet { blocks, linear }
    }
}

impl Graph for ConvNet {
    fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, norm, pool) in &self.blocks {
            h = net.norm(norm, &net.conv(conv, &h), mode).relu();
            if *pool {
                h = h.max_pool2d_default(2);
            }
        }
        let h = h.max_pool2d_default(4).flatten(1, -1);
        net.linear(&self.linear, &h)
    }

    fn channels_last(&self) -> bool {
        true
    }
}

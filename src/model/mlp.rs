//! The MLP (any input shape, its first layer's fan-in the input's size): flatten -> [Linear -> norm -> ReLU] x `depth` -> Linear, `width` units per hidden
//! layer. Names: `layers.{3i}` (Linear), `layers.{3i+1}` (norm), `head` (classifier), as in an
//! `nn.Sequential` of Linear, norm and ReLU modules followed by `head`.
//!
//! SI groups: each hidden Linear (weight, and bias in `standard`) feeds its normalization only:
//! one group per layer (`layers.0`, `layers.3`, ...); with weight normalization its `weight_v`.

use super::norm::NormLayer;
use super::{BnMode, Builder, Graph, Linear, Net, Role};
use crate::config::{NormName, Variant};
use tch::Tensor;

#[derive(Debug)]
pub(crate) struct Mlp {
    layers: Vec<(Linear, Option<NormLayer>)>,
    head: Linear,
}

impl Mlp {
    pub(crate) fn build(b: &mut Builder, classes: i64) -> Mlp {
        let (w, depth, v) = (b.cfg.width, b.cfg.depth, b.cfg.variant);
        let (bias, affine) = match v {
            Variant::Standard => (true, true),
            Variant::ScaleInvariant => (false, false),
            Variant::SiAffine => (false, true),
        };
        let normalized = b.norm_name() != NormName::None;
        let mut layers = vec![];
        let mut fin: i64 = b.input.iter().product();
        for i in 0..depth {
            let name = format!("layers.{}", 3 * i);
            let lin = b.linear(&name, fin, w, bias, Role::Trained);
            if normalized {
                let members = b.scaled(lin.weight, lin.bias);
                b.declare(name, &members);
            }
            let norm = b.norm(&format!("layers.{}", 3 * i + 1), w, affine, false);
            layers.push((lin, norm));
            fin = w;
        }
        let last_role = if v == Variant::ScaleInvariant { Role::Frozen } else { Role::Trained };
        let head = b.classifier("head", w, classes, true, b.cfg.last_layer_norm, last_role);
        Mlp { layers, head }
    }
}

impl Graph for Mlp {
    fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let mut h = x.flatten(1, -1);
        for (lin, norm) in &self.layers {
            h = net.norm(norm, &net.linear(lin, &h), mode).relu();
        }
        net.linear(&self.head, &h)
    }
}

//! The built-in synthetic data set: learnable but not trivial 32x32x3 images.
//!
//! Each class is a mixture of `PROTOTYPES` smooth random colour patterns (a class is multi-modal).
//! An image is `a * prototype + b * nuisance + noise * eps`, where the prototype and a nuisance
//! pattern (shared by all classes) are cropped at independent random offsets from 40x40 canvases
//! (so the net must be shift-tolerant), `a ~ U(0.6, 1.4)`, `b ~ N(0, 1)` and `eps` is white noise.
//! Templates depend only on `(seed, classes)`, so a train and a test set drawn from different
//! streams share their classes.

use super::{Dataset, rng, streams};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use tch::{Kind, Tensor};

const PROTOTYPES: usize = 3;
const NUISANCES: usize = 16;
const CANVAS: usize = 40;
/// Resolution of the random grid that is upsampled to a canvas (sets the patterns' smoothness).
const GRID: i64 = 6;

/// `count` smooth random canvases `[count, 3, CANVAS, CANVAS]`, scaled to unit pixel variance.
fn canvases(count: usize, r: &mut rand_chacha::ChaCha8Rng) -> Vec<f32> {
    let raw: Vec<f32> = (0..count * 3 * (GRID * GRID) as usize).map(|_| StandardNormal.sample(r)).collect();
    let t = Tensor::from_slice(&raw).view([count as i64, 3, GRID, GRID]);
    let up = t.upsample_bicubic2d([CANVAS as i64, CANVAS as i64], true, None, None);
    let up = &up / up.std(true);
    Vec::<f32>::try_from(up.contiguous().view([-1])).expect("f32 canvases")
}

/// Generate `n` images of `classes` classes (labels balanced, in random order) at the given
/// `noise` level, from `seed` and the random stream `stream` (train and test use different ones).
pub fn generate(n: usize, classes: usize, noise: f64, seed: u64, stream: u64) -> Dataset {
    let mut tr = rng(seed ^ (classes as u64).rotate_left(17), streams::SYNTH_TEMPLATES);
    let protos = canvases(classes * PROTOTYPES, &mut tr);
    let nuis = canvases(NUISANCES, &mut tr);
    let mut r = rng(seed, stream);
    let plane = CANVAS * CANVAS;
    let mut labels: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
    rand::seq::SliceRandom::shuffle(&mut labels[..], &mut r);
    let mut px = vec![0f32; n * 3 * 1024];
    let noise = noise as f32;
    // Pixel variance before scaling: E[a^2] + E[b^2] + noise^2, a ~ U(0.6,1.4), b ~ N(0,1).
    let scale = 1.0 / (1.0 + 0.08 / 3.0 + 1.0 + noise * noise).sqrt();
    for (i, &label) in labels.iter().enumerate() {
        let p = label as usize * PROTOTYPES + r.random_range(0..PROTOTYPES);
        let q = r.random_range(0..NUISANCES);
        let a: f32 = r.random_range(0.6..1.4);
        let b: f32 = StandardNormal.sample(&mut r);
        let (py, pxo) = (r.random_range(0..=CANVAS - 32), r.random_range(0..=CANVAS - 32));
        let (qy, qx) = (r.random_range(0..=CANVAS - 32), r.random_range(0..=CANVAS - 32));
        let img = &mut px[i * 3072..(i + 1) * 3072];
        for c in 0..3 {
            let pbase = (p * 3 + c) * plane;
            let qbase = (q * 3 + c) * plane;
            for y in 0..32 {
                let prow = pbase + (y + py) * CANVAS + pxo;
                let qrow = qbase + (y + qy) * CANVAS + qx;
                let out = &mut img[c * 1024 + y * 32..c * 1024 + y * 32 + 32];
                for x in 0..32 {
                    let e: f32 = StandardNormal.sample(&mut r);
                    out[x] = scale * (a * protos[prow + x] + b * nuis[qrow + x] + noise * e);
                }
            }
        }
    }
    Dataset {
        images: Tensor::from_slice(&px).view([n as i64, 3, 32, 32]).to_kind(Kind::Float),
        labels: Tensor::from_slice(&labels),
        classes,
        pad_value: vec![0.0; 3],
    }
}

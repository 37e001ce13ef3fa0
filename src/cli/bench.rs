//! `silab bench`.

use anyhow::Result;
use silab::bench::{self, BenchConfig};
use silab::config::{Arch, DeviceName, ModelConfig, OptimMode, OptimName, Variant};

/// Time training steps; prints one JSON line comparable with scripts/bench_torch_convnet.py.
#[derive(clap::Args)]
pub struct Args {
    /// convnet (the papers' workload), mlp or vit (scale-invariant variant, default norm).
    #[arg(long, value_enum, default_value = "convnet")]
    arch: ArchName,
    /// Instead of --arch: a scripted module (`model.arch = "torchscript"`), e.g. one written by
    /// `scripts/bench_torch_models.py --export FILE`; its SI groups from the manifest beside it.
    #[arg(long, conflicts_with = "arch")]
    model_file: Option<std::path::PathBuf>,
    /// ConvNet width factor k; MLP hidden units.
    #[arg(long, default_value_t = 32)]
    width: i64,
    /// MLP hidden layers / ViT blocks.
    #[arg(long, default_value_t = 3)]
    depth: i64,
    /// ViT embedding dimension.
    #[arg(long, default_value_t = 64)]
    dim: i64,
    /// ViT heads.
    #[arg(long, default_value_t = 4)]
    heads: i64,
    /// ViT patch size.
    #[arg(long, default_value_t = 4)]
    patch: i64,
    #[arg(long, value_enum, default_value = "full")]
    mode: OptimMode,
    /// The optimizer (PyTorch side: scripts/bench_torch_models.py --optim).
    #[arg(long, value_enum, default_value = "sgd")]
    optim: OptimName,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 128)]
    batch: i64,
    #[arg(long, default_value_t = 10)]
    classes: i64,
    #[arg(long, default_value_t = 30)]
    steps: usize,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    #[arg(long, default_value_t = 1e-3)]
    wd: f64,
    #[arg(long, default_value_t = 1e-3)]
    elr: f64,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceName,
    /// Time curvature instead of training: one gradient, one Hessian-vector product and one
    /// Gauss-Newton-vector product over a batch, and a top-eigenvalue estimate (Lanczos).
    #[arg(long)]
    curvature: bool,
    /// Lanczos steps of the top-eigenvalue estimate (--curvature).
    #[arg(long, default_value_t = 20)]
    lanczos_iters: usize,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ArchName {
    Convnet,
    Mlp,
    Vit,
}

pub fn run(a: Args) -> Result<()> {
    let arch = match a.arch {
        ArchName::Convnet => Arch::Convnet,
        ArchName::Mlp => Arch::Mlp,
        ArchName::Vit => Arch::Vit,
    };
    let (arch, file) = match &a.model_file {
        Some(f) => (Arch::Torchscript, f.display().to_string()),
        None => (arch, String::new()),
    };
    let model = ModelConfig {
        arch,
        file,
        variant: Variant::ScaleInvariant,
        depth: a.depth,
        dim: a.dim,
        heads: a.heads,
        patch: a.patch,
        ..Default::default()
    };
    if let Err(e) = model.check() {
        anyhow::bail!("{e}");
    }
    let c = BenchConfig {
        model,
        width: a.width,
        batch: a.batch,
        classes: a.classes,
        steps: a.steps,
        warmup: a.warmup,
        threads: a.threads,
        mode: a.mode,
        optim: a.optim,
        momentum: a.momentum,
        lr: a.lr,
        wd: a.wd,
        elr: a.elr,
        device: a.device,
    };
    if a.curvature {
        println!("{}", serde_json::to_string(&bench::curvature(&c, a.lanczos_iters)?)?);
    } else {
        println!("{}", serde_json::to_string(&bench::run(&c)?)?);
    }
    Ok(())
}

//! A scripted PyTorch module as a silab network (`model.arch = "torchscript"`).
//!
//! The module (`torch.jit.script(m).save("net.pt")`) runs in libtorch through [`tch::CModule`];
//! the [`Net`]'s tensors are the module's own (same `TensorImpl`s, PyTorch's names), so the
//! optimizer's in-place updates are what the module computes with, and a checkpoint holds the
//! module's state dict (`load_state_dict(strict=True)` takes it).
//!
//! Buffers: tch 0.26 exposes a module's parameters but not its buffers. A TorchScript archive
//! (a zip) declares, in the source of each class under `code/`, which attributes are parameters
//! (`__parameters__ = [...]`) and which are buffers (`__buffers__ = [...]`). The module is
//! loaded twice: as saved (its parameters), and from a copy of the archive in memory whose
//! classes declare their buffers as parameters too, so that `named_parameters` also yields the
//! buffers (the running statistics); the difference is the buffers. Only the flag changes: a
//! buffer keeps its dtype, `requires_grad = false`, and what the code does with it.
//!
//! Modes: [`BnMode::Train`] and [`BnMode::Eval`] are `module.train()` / `module.eval()`;
//! [`BnMode::TrainFrozenStats`] runs in train mode and then puts every buffer's data back
//! (`set_data`, which leaves autograd's version counters alone: a `copy_` would make the
//! backward pass refuse, since BatchNorm saves its running statistics for it).
//!
//! Refused before any training, each naming what was found: a traced module (tracing freezes
//! train/eval behaviour), a forward that takes more than one input, an output that is not a
//! `[B, C]` tensor.

use super::{BnMode, Graph, Net, Param, Role, SiGroup};
use crate::config::{ModelConfig, SiGroupDecl};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{CModule, Device, IValue, Kind, Tensor};

/// What is wrong with a scripted module or its SI declaration.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("model.file = {}: {why}", path.display())]
    File { path: PathBuf, why: String },
    #[error(
        "model.file = {}: a traced module ({why}); torch.jit.trace freezes train/eval behaviour \
         (a BatchNorm traced in train mode always uses batch statistics, one traced in eval mode never), so silab \
         cannot run its modes: \
         save it with torch.jit.script(module) instead (or silab.export)",
        path.display()
    )]
    Traced { path: PathBuf, why: String },
    #[error(
        "model.file = {}: forward must take one input (a batch) and return logits [B, C]; {why}",
        path.display()
    )]
    Signature { path: PathBuf, why: String },
    #[error("{key}: {why}")]
    Declaration { key: String, why: String },
    #[error("manifest {}: {why}", path.display())]
    Manifest { path: PathBuf, why: String },
}

fn file_err(path: &Path, why: impl Into<String>) -> ScriptError {
    ScriptError::File { path: path.to_path_buf(), why: why.into() }
}

fn decl_err(key: impl Into<String>, why: impl Into<String>) -> ScriptError {
    ScriptError::Declaration { key: key.into(), why: why.into() }
}

/// The manifest `silab.export` writes beside `net.pt` (`net.silab.toml`).
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Manifest {
    /// One example's shape, without the batch dimension.
    #[serde(default)]
    pub input_shape: Option<Vec<i64>>,
    /// The size of the last output dimension.
    #[serde(default)]
    pub classes: Option<usize>,
    #[serde(default)]
    pub si_groups: Vec<ManifestGroup>,
    #[serde(default)]
    pub frozen: Vec<String>,
}

/// One group of a manifest: as `[[model.si_groups]]`, with why it is SI (free text).
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
pub struct ManifestGroup {
    pub name: String,
    pub params: Vec<String>,
    #[serde(default)]
    pub how: Option<String>,
    /// A top-level `frozen = [...]` written after the groups lands in the last group's table
    /// (TOML): taken as the manifest's.
    #[serde(default)]
    pub frozen: Vec<String>,
}

/// Where the manifest of `file` is: the same stem with `.silab.toml` (`net.pt` ->
/// `net.silab.toml`).
pub fn manifest_path(file: &Path) -> PathBuf {
    file.with_extension("silab.toml")
}

/// The manifest beside `file`, if there is one.
pub fn read_manifest(file: &Path) -> Result<Option<Manifest>, ScriptError> {
    let path = manifest_path(file);
    if !path.is_file() {
        return Ok(None);
    }
    let err = |why: String| ScriptError::Manifest { path: path.clone(), why };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    let mut m: Manifest = toml::from_str(&text).map_err(|e| err(format!("not a silab manifest: {e}")))?;
    let misplaced: Vec<String> = m.si_groups.iter_mut().flat_map(|g| std::mem::take(&mut g.frozen)).collect();
    m.frozen.extend(misplaced);
    Ok(Some(m))
}

/// `*` matches any run of characters (dots included), `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // classic two-pointer wildcard match with backtracking to the last `*`
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The TorchScript archive, read: its entries in order, and what its code says.
struct Archive {
    entries: Vec<(String, Vec<u8>)>,
}

impl Archive {
    fn read(path: &Path, bytes: &[u8]) -> Result<Archive, ScriptError> {
        let not_zip = |e: zip::result::ZipError| {
            file_err(path, format!("not a TorchScript archive (torch.jit.save writes a zip): {e}"))
        };
        let mut z = zip::ZipArchive::new(Cursor::new(bytes)).map_err(not_zip)?;
        let mut entries = vec![];
        for i in 0..z.len() {
            let mut f = z.by_index(i).map_err(not_zip)?;
            let mut data = vec![];
            f.read_to_end(&mut data).map_err(|e| file_err(path, format!("entry {}: {e}", f.name())))?;
            entries.push((f.name().to_string(), data));
        }
        if !entries.iter().any(|(n, _)| n.ends_with("/data.pkl")) || !entries.iter().any(|(n, _)| n.contains("/code/"))
        {
            return Err(file_err(
                path,
                "a zip without data.pkl and code/: not a scripted module (torch.jit.script(m).save(path)); \
                 a torch.save'd state dict or a torch.export program cannot be run by libtorch's jit",
            ));
        }
        Ok(Archive { entries })
    }

    /// The TorchScript source of every class (`code/**.py`), with its entry name.
    fn code(&self) -> impl Iterator<Item = (&str, String)> {
        self.entries
            .iter()
            .filter(|(n, _)| n.contains("/code/") && n.ends_with(".py"))
            .map(|(n, d)| (n.as_str(), String::from_utf8_lossy(d).into_owned()))
    }

    /// Why this looks traced, if it does: tracing names the inputs of submodules' forwards
    /// `argument_1`, and bakes `training` into the ops, so nothing reads `self.training`
    /// although the module has buffers whose use depends on it.
    fn traced(&self) -> Option<String> {
        let code: Vec<(&str, String)> = self.code().collect();
        if let Some((name, _)) = code.iter().find(|(_, c)| c.contains("argument_1: Tensor")) {
            let file = name.split("/code/").nth(1).unwrap_or(name);
            return Some(format!("its code names forward's input `argument_1`, as torch.jit.trace does ({file})"));
        }
        let has_buffers = code.iter().any(|(_, c)| {
            c.lines().any(|l| l.trim_start().starts_with("__buffers__ = [") && l.contains("\"running_mean\""))
        });
        let reads_training = code.iter().any(|(_, c)| c.contains("self.training"));
        (has_buffers && !reads_training)
            .then(|| "it has running statistics but its code never reads self.training".to_string())
    }

    /// The archive with every class's buffers declared as parameters (and the debug source maps,
    /// whose offsets would no longer match, left out); with `zero_eps`, every normalization's
    /// `eps` constant set to 0 (for the exact scale-invariance check).
    fn rewritten(&self, path: &Path, zero_eps: bool) -> Result<Vec<u8>, ScriptError> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let fail = |e: String| file_err(path, format!("rewriting the archive in memory: {e}"));
        // the modules' eps constants, which the scripted code inlines as literals
        let eps: Vec<String> = if zero_eps {
            let mut v: Vec<String> = self
                .code()
                .flat_map(|(_, c)| {
                    c.lines()
                        .filter_map(|l| {
                            l.trim_start().strip_prefix("eps : Final[float] = ").map(|e| e.trim().to_string())
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            v.sort();
            v.dedup();
            v
        } else {
            vec![]
        };
        for (name, data) in &self.entries {
            if name.ends_with(".debug_pkl") {
                continue;
            }
            let data = if name.contains("/code/") && name.ends_with(".py") {
                rewrite_class_source(&String::from_utf8_lossy(data), &eps).into_bytes()
            } else {
                data.clone()
            };
            w.start_file(name.as_str(), opts).map_err(|e| fail(e.to_string()))?;
            w.write_all(&data).map_err(|e| fail(e.to_string()))?;
        }
        Ok(w.finish().map_err(|e| fail(e.to_string()))?.into_inner())
    }
}

/// The epsilon of the exact check: PyTorch 2.13's `batch_norm` refuses 0 in training, and next
/// to a variance of order 1 (or even 1e-250) this is 0 in f64.
const TINY_EPS: &str = "1e-300";

/// Move each class's `__buffers__` into its `__parameters__` (see the module doc); the values
/// `eps` (the normalizations' epsilons, as written) become [`TINY_EPS`] wherever they are an
/// argument.
fn rewrite_class_source(src: &str, eps: &[String]) -> String {
    let mut out = String::with_capacity(src.len());
    let mut pending: Option<String> = None;
    let list = |l: &str| {
        l.split_once('=').map(|(_, r)| r.trim().trim_start_matches('[').trim_end_matches(']').trim().to_string())
    };
    let lines: Vec<&str> = src.lines().collect();
    for (k, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if t.starts_with("__parameters__ = [") {
            // the buffers line follows the parameters line in every class torch.jit.save writes
            let bufs = lines.get(k + 1).filter(|n| n.trim_start().starts_with("__buffers__ = [")).and_then(|n| list(n));
            let params = list(t).unwrap_or_default();
            let both = [params, bufs.clone().unwrap_or_default()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>();
            let joined = both.iter().map(|s| s.trim_end_matches(',').trim().to_string()).collect::<Vec<_>>().join(", ");
            let joined = if joined.is_empty() { String::new() } else { format!("{joined}, ") };
            out += &format!("{indent}__parameters__ = [{joined}]\n");
            pending = bufs.map(|_| format!("{indent}__buffers__ = []\n"));
            continue;
        }
        if t.starts_with("__buffers__ = [") {
            out += &pending.take().unwrap_or_else(|| format!("{line}\n"));
            continue;
        }
        if !eps.is_empty() && t.starts_with("eps : Final[float] = ") {
            out += &format!("{indent}eps : Final[float] = {TINY_EPS}\n");
            continue;
        }
        let mut line = line.to_string();
        for e in eps {
            for (a, b) in [(" ", ","), (" ", ")"), ("(", ","), ("(", ")")] {
                line = line.replace(&format!("{a}{e}{b}"), &format!("{a}{TINY_EPS}{b}"));
            }
        }
        out += &line;
        out.push('\n');
    }
    out
}

/// The module with its train/eval flag as last set.
#[derive(Debug)]
struct Module {
    module: CModule,
    train: Option<bool>,
}

/// The graph of a scripted module.
#[derive(Debug)]
pub(crate) struct Scripted {
    module: Mutex<Module>,
    /// Indices of the buffers in the net's tensors.
    buffers: Vec<usize>,
    file: PathBuf,
    sha256: String,
}

impl Scripted {
    fn run(&self, x: &Tensor, train: bool) -> Result<IValue, tch::TchError> {
        let mut m = self.module.lock().unwrap_or_else(|e| e.into_inner());
        if m.train != Some(train) {
            if train {
                m.module.f_set_train()?
            } else {
                m.module.f_set_eval()?
            }
            m.train = Some(train);
        }
        m.module.forward_is(&[IValue::Tensor(x.shallow_clone())])
    }
}

impl Graph for Scripted {
    fn forward(&self, net: &Net, x: &Tensor, mode: BnMode) -> Tensor {
        let keep: Vec<(usize, Tensor)> = if mode == BnMode::TrainFrozenStats {
            self.buffers.iter().map(|&i| (i, net.t(i).detach().copy())).collect()
        } else {
            vec![]
        };
        let out = self.run(x, mode != BnMode::Eval);
        for (i, saved) in keep {
            net.t(i).shallow_clone().set_data(&saved);
        }
        // the input shape and the output were checked when the module was loaded
        match out {
            Ok(IValue::Tensor(t)) => t,
            Ok(other) => panic!("{}: forward returned {other:?}, not a tensor", self.file.display()),
            Err(e) => panic!("{}: forward failed: {e}", self.file.display()),
        }
    }

    fn source(&self) -> Option<(&Path, &str)> {
        Some((&self.file, &self.sha256))
    }

    fn as_scripted(&self) -> Option<&Scripted> {
        Some(self)
    }
}

/// How to load a scripted module.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// One example's shape (without the batch dimension): the data set's.
    pub input_shape: Vec<i64>,
    /// The data set's number of classes (`None`: whatever the module outputs).
    pub classes: Option<usize>,
    pub kind: Kind,
    pub device: Device,
    /// Every normalization's `eps` set to (practically) 0 (the exact scale-invariance check).
    pub zero_eps: bool,
}

/// The file's bytes and their SHA-256 (hex).
pub fn file_sha256(path: &Path) -> Result<(Vec<u8>, String), ScriptError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, format!("cannot be read: {e}")))?;
    let sha = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes, sha))
}

/// Load `cfg.file` as a [`Net`]: tensors, roles and SI groups from the config, else the manifest
/// beside the file. Refuses traced modules, forwards of more than one input, outputs that are
/// not `[B, C]` (or whose `C` is not the data set's), and declarations that name no tensor.
/// The groups are not verified here: [`crate::model::si::verify_declared`] does that.
pub fn load(cfg: &ModelConfig, o: &LoadOptions) -> Result<Net, ScriptError> {
    let path = PathBuf::from(&cfg.file);
    let (bytes, sha256) = file_sha256(&path)?;
    let archive = Archive::read(&path, &bytes)?;
    if let Some(why) = archive.traced() {
        return Err(ScriptError::Traced { path, why });
    }
    // the manifest says which input the module was exported for: another shape is refused here,
    // naming both, before libtorch runs the module on it
    let manifest = read_manifest(&path)?;
    if let Some(shape) = manifest.as_ref().and_then(|m| m.input_shape.as_ref())
        && *shape != o.input_shape
    {
        return Err(ScriptError::Manifest {
            path: manifest_path(&path),
            why: format!(
                "input_shape = {shape:?}: {} was exported for such inputs, but the data set gives {:?}; train it \
                 on data of that shape, or export it again for this data",
                path.display(),
                o.input_shape
            ),
        });
    }
    let load = |data: &[u8]| {
        CModule::load_data_on_device(&mut Cursor::new(data), o.device)
            .map_err(|e| file_err(&path, format!("libtorch cannot load it: {}", first_line(&e.to_string()))))
    };
    let param_names: Vec<String> = {
        let m = load(&bytes)?;
        let named = m.named_parameters().map_err(|e| file_err(&path, e.to_string()))?;
        named.into_iter().map(|(n, _)| n).collect()
    };
    let mut module = load(&archive.rewritten(&path, o.zero_eps)?)?;
    module.to(o.device, o.kind, false);
    let all = module.named_parameters().map_err(|e| file_err(&path, e.to_string()))?;
    let (params, buffers) = tensors(all, &param_names);
    let (params, groups) = declare(cfg, manifest.as_ref(), params)?;
    let nb = params.len();
    let mut all_params = params;
    all_params.extend(buffers);
    let graph = Scripted {
        module: Mutex::new(Module { module, train: None }),
        buffers: (nb..all_params.len()).collect(),
        file: path.clone(),
        sha256,
    };
    let mut net = Net {
        config: cfg.clone(),
        classes: 0,
        params: all_params,
        groups,
        graph: Box::new(graph),
        input: o.input_shape.clone(),
    };
    net.classes = check_output(&net, &path, o)?;
    Ok(net)
}

fn first_line(s: &str) -> String {
    s.lines().take(3).collect::<Vec<_>>().join(" ")
}

/// Parameters (in the module's order) and buffers (`requires_grad = false`), as [`Param`]s.
fn tensors(all: Vec<(String, Tensor)>, param_names: &[String]) -> (Vec<Param>, Vec<Param>) {
    let (mut params, mut buffers) = (vec![], vec![]);
    for (name, tensor) in all {
        if param_names.contains(&name) {
            let role = if tensor.requires_grad() { Role::Trained } else { Role::Frozen };
            params.push(Param { name, tensor, role });
        } else {
            let tensor = tensor.set_requires_grad(false);
            buffers.push(Param { name, tensor, role: Role::Buffer });
        }
    }
    (params, buffers)
}

/// Apply the declaration (config, else manifest): frozen tensors, then the SI groups. A pattern
/// that matches no parameter, a tensor in two groups or a frozen tensor in a group is refused.
fn declare(
    cfg: &ModelConfig,
    manifest: Option<&Manifest>,
    mut params: Vec<Param>,
) -> Result<(Vec<Param>, Vec<SiGroup>), ScriptError> {
    let from_cfg = !cfg.si_groups.is_empty();
    let (decls, src) = match manifest {
        _ if from_cfg => (cfg.si_groups.clone(), "model.si_groups"),
        Some(m) => {
            let groups = m.si_groups.iter().map(|g| SiGroupDecl { name: g.name.clone(), params: g.params.clone() });
            (groups.collect(), "the manifest's si_groups")
        }
        None => (vec![], "model.si_groups"),
    };
    let frozen = if !cfg.frozen.is_empty() {
        cfg.frozen.clone()
    } else {
        manifest.map(|m| m.frozen.clone()).unwrap_or_default()
    };
    for pat in &frozen {
        let hits: Vec<usize> = (0..params.len()).filter(|&i| glob_match(pat, &params[i].name)).collect();
        if hits.is_empty() {
            return Err(decl_err(
                "model.frozen",
                format!("`{pat}` matches no parameter of the module ({})", names(&params)),
            ));
        }
        for i in hits {
            params[i].role = Role::Frozen;
            params[i].tensor = params[i].tensor.set_requires_grad(false);
        }
    }
    let mut groups = vec![];
    for (g, d) in decls.iter().enumerate() {
        let key = format!("{src}[{g}] ({})", d.name);
        let mut members = vec![];
        for pat in &d.params {
            let hits: Vec<usize> = (0..params.len()).filter(|&i| glob_match(pat, &params[i].name)).collect();
            if hits.is_empty() {
                return Err(decl_err(&key, format!("`{pat}` matches no parameter of the module ({})", names(&params))));
            }
            for i in hits {
                if !members.contains(&i) {
                    members.push(i);
                }
            }
        }
        for &i in &members {
            match params[i].role {
                Role::Frozen => {
                    return Err(decl_err(&key, format!("{} is frozen; a group is trained", params[i].name)));
                }
                Role::Si => return Err(decl_err(&key, format!("{} is in two SI groups", params[i].name))),
                _ => params[i].role = Role::Si,
            }
        }
        groups.push(SiGroup { name: d.name.clone(), params: members });
    }
    for p in params.iter_mut().filter(|p| matches!(p.role, Role::Si | Role::Trained)) {
        p.tensor = p.tensor.set_requires_grad(true);
    }
    Ok((params, groups))
}

fn names(params: &[Param]) -> String {
    let n: Vec<&str> = params.iter().map(|p| p.name.as_str()).take(12).collect();
    let more = if params.len() > 12 { format!(", ... {} in all", params.len()) } else { String::new() };
    format!("its parameters: {}{more}", n.join(", "))
}

/// Run a batch of 2 through the module in train and eval mode: one input taken, a `[2, C]`
/// tensor out (`C` the data set's classes when given), and (with buffers) train mode differing
/// from eval mode, which a traced module's does not. Returns `C`.
fn check_output(net: &Net, path: &Path, o: &LoadOptions) -> Result<usize, ScriptError> {
    let graph = net.scripted().expect("a scripted net");
    let shape: Vec<i64> = std::iter::once(2).chain(o.input_shape.iter().copied()).collect();
    let x = Tensor::randn(shape.as_slice(), (o.kind, o.device));
    let sig = |why: String| ScriptError::Signature { path: path.to_path_buf(), why };
    let out = |train: bool| -> Result<Tensor, ScriptError> {
        let v = tch::no_grad(|| graph.run(&x, train)).map_err(|e| {
            sig(format!("calling it on one batch of shape {shape:?} failed: {}", first_line(&e.to_string())))
        })?;
        match v {
            IValue::Tensor(t) => Ok(t),
            other => Err(sig(format!("it returned {}, not a tensor", ivalue_kind(&other)))),
        }
    };
    let snapshot = net.snapshot();
    let (te, tt) = (out(false)?, out(true)?);
    // the probe's batch statistics must not stay in the running statistics
    tch::no_grad(|| {
        for (p, (_, s)) in net.params().iter().zip(&snapshot) {
            p.tensor.shallow_clone().set_data(s);
        }
    });
    let size = te.size();
    if size.len() != 2 || size[0] != 2 {
        return Err(sig(format!("a batch of shape {shape:?} gave an output of shape {size:?}, not [2, C]")));
    }
    let classes = size[1] as usize;
    if let Some(c) = o.classes.filter(|&c| c != classes) {
        return Err(sig(format!("it outputs {classes} logits per example but the data set has {c} classes")));
    }
    let buffers = net.params().iter().any(|p| p.role == Role::Buffer && p.name.ends_with("running_mean"));
    if buffers && te.allclose(&tt, 0.0, 0.0, false) {
        return Err(ScriptError::Traced {
            path: path.to_path_buf(),
            why: "it has running statistics, yet train and eval mode give the same output".into(),
        });
    }
    Ok(classes)
}

fn ivalue_kind(v: &IValue) -> String {
    match v {
        IValue::Tuple(t) => format!("a tuple of {}", t.len()),
        IValue::TensorList(t) => format!("a list of {} tensors", t.len()),
        IValue::GenericList(t) => format!("a list of {}", t.len()),
        IValue::GenericDict(_) => "a dict".into(),
        IValue::None => "None".into(),
        other => format!("{other:?}").chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("conv_layers.*.weight", "conv_layers.0.weight"));
        assert!(glob_match("*", "a.b"));
        assert!(glob_match("blocks.?.fc1.*", "blocks.3.fc1.bias"));
        assert!(!glob_match("blocks.?.fc1.*", "blocks.12.fc1.bias"));
        assert!(!glob_match("conv.weight", "conv.bias"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn the_contracts_manifest_reads_with_frozen_after_the_groups() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# written by silab.export\ninput_shape = [3, 32, 32]\nclasses = 10\n[[si_groups]]\nname = \"a\"\nparams = [\"a.weight\"]\nhow = \"BatchNorm2d b\"\nfrozen = [\"head.weight\"]\n";
        std::fs::write(dir.path().join("net.silab.toml"), text).unwrap();
        let m = read_manifest(&dir.path().join("net.pt")).unwrap().unwrap();
        assert_eq!(m.input_shape, Some(vec![3, 32, 32]));
        assert_eq!(m.classes, Some(10));
        assert_eq!(m.si_groups[0].params, vec!["a.weight"]);
        assert_eq!(m.frozen, vec!["head.weight"]);
        assert!(read_manifest(&dir.path().join("other.pt")).unwrap().is_none());
    }

    #[test]
    fn buffers_become_parameters() {
        let src = "class B(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = [\"running_mean\", \"running_var\", ]\n  eps : Final[float] = 1.0000000000000001e-05\n    _3 = _0(input, 0.10000000000000001, 1.0000000000000001e-05, )\n";
        let out = rewrite_class_source(src, &["1.0000000000000001e-05".to_string()]);
        assert!(out.contains("_0(input, 0.10000000000000001, 1e-300, )"), "{out}");
        assert!(out.contains("__parameters__ = [\"weight\", \"bias\", \"running_mean\", \"running_var\", ]"), "{out}");
        assert!(out.contains("__buffers__ = []"), "{out}");
        assert!(out.contains("eps : Final[float] = 1e-300"), "{out}");
        let none = "class C(Module):\n  __parameters__ = []\n  __buffers__ = [\"m\", ]\n";
        let out = rewrite_class_source(none, &[]);
        assert!(out.contains("__parameters__ = [\"m\", ]"), "{out}");
    }
}

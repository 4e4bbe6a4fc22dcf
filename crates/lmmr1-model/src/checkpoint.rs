//! Checkpoints: weights exported as a Hugging Face model directory (`model.safetensors` +
//! `config.json`, loadable by transformers and by [`crate::Qwen25VL::load`]), and training
//! checkpoints (named tensor groups such as weights and optimizer state, plus a JSON state with
//! the step, schedule, RNG and data position) that a crash cannot leave half-written.
//!
//! A training checkpoint is the directory `root/step-N`:
//! * `{group}.safetensors` for each tensor group;
//! * `checkpoint.json`, the [`TrainingCheckpoint`] manifest (step, group names, state).
//!
//! It is written into a temporary directory `root/.tmp-step-N-…` (every file fsynced), renamed
//! to `root/step-N`, and only then named by `root/latest` (replaced atomically). Readers trust
//! `latest`; without it (or if it names a damaged directory) they take the newest complete
//! `step-N`. Temporary directories are never read. One writer per root is assumed.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::weights::{expected_tensors, normalize_name};

/// The manifest of a training checkpoint (`checkpoint.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingCheckpoint {
    /// Layout version of the directory (1).
    pub format: u32,
    /// Optimizer steps completed when it was written.
    pub step: u64,
    /// Tensor groups, each stored as `{name}.safetensors`.
    pub groups: Vec<String>,
    /// Everything else the run needs to continue (schedule, RNG state, data position, …).
    pub state: serde_json::Value,
}

/// A training checkpoint read back by [`load_latest_checkpoint`] (tensors on the CPU).
#[derive(Debug)]
pub struct LoadedCheckpoint {
    /// Its directory (`root/step-N`).
    pub dir: PathBuf,
    /// Optimizer steps completed.
    pub step: u64,
    /// Group name → tensor name → tensor.
    pub groups: HashMap<String, HashMap<String, Tensor>>,
    /// The JSON state saved with it.
    pub state: serde_json::Value,
}

const MANIFEST: &str = "checkpoint.json";
const LATEST: &str = "latest";
const FORMAT: u32 = 1;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| Error::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn ckpt_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// A name for a temporary sibling that no other call of this process uses.
fn temp_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        ".tmp-{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// fsync of a directory, so that renames inside it are durable (best effort: some platforms
/// cannot open directories).
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename
/// over `path`, fsync of the directory. Readers see the old content or the new, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| ckpt_err(path, "not a file path"))?;
    let tmp = dir.join(temp_name(&name));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res?;
    sync_dir(&dir);
    Ok(())
}

/// Writes named tensors as one safetensors file (metadata `format: pt`) and fsyncs it.
fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let data: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    safetensors::tensor::serialize_to_file(data, Some(meta), path)
        .map_err(|e| ckpt_err(path, format!("writing safetensors: {e}")))?;
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

/// [`write_safetensors`] through a temporary file in the same directory and a rename.
fn write_safetensors_atomic(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| ckpt_err(path, "not a file path"))?;
    let tmp = dir.join(temp_name(&name));
    let res = write_safetensors(&tmp, tensors)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io_err(path)));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res?;
    sync_dir(&dir);
    Ok(())
}

fn torch_dtype_name(dtype: DType) -> Result<&'static str> {
    Ok(match dtype {
        DType::F32 => "float32",
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        DType::F64 => "float64",
        d => {
            return Err(Error::Input(format!(
                "cannot export weights as {d:?} (f32, bf16, f16, f64)"
            )))
        }
    })
}

/// Exports model weights as a Hugging Face directory: `dir/model.safetensors` (hub names
/// `model.*`, `visual.*`, `lm_head.weight`; `lm_head` omitted when the embeddings are tied,
/// tensors cast to `dtype`) and `dir/config.json` (flat hub layout, [`Config::to_hub_json`]).
///
/// `tensors` may use any layout [`normalize_name`] knows; every tensor the architecture needs
/// must be there with its shape, and nothing else. Each file is replaced atomically (weights
/// first, config last); a stale `model.safetensors.index.json` is removed so that loaders read
/// the new file. Other files in `dir` (tokenizer, processor config) are kept.
pub fn save_hf(dir: &Path, cfg: &Config, tensors: &[(String, Tensor)], dtype: DType) -> Result<()> {
    let torch_dtype = torch_dtype_name(dtype)?;
    let mut by_name: HashMap<String, &Tensor> = HashMap::with_capacity(tensors.len());
    let mut extra = Vec::new();
    let expected = expected_tensors(cfg);
    let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    for (name, t) in tensors {
        let n = normalize_name(name);
        if known.contains(n.as_str()) {
            by_name.insert(n, t);
        } else if !(cfg.tie_word_embeddings && n == "lm_head.weight") {
            extra.push(name.clone());
        }
    }
    if !extra.is_empty() {
        extra.sort();
        return Err(Error::ExtraTensors {
            dir: dir.to_path_buf(),
            names: extra,
        });
    }
    let missing: Vec<String> = expected
        .iter()
        .filter(|(n, _)| !by_name.contains_key(n))
        .map(|(n, _)| n.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingTensors {
            dir: dir.to_path_buf(),
            names: missing,
        });
    }
    let mut out = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let t = by_name[&name];
        if t.dims() != shape.as_slice() {
            return Err(Error::Shape {
                name,
                expected: shape,
                found: t.dims().to_vec(),
            });
        }
        out.push((name, t.detach().to_dtype(dtype)?));
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    write_safetensors_atomic(&dir.join("model.safetensors"), &out)?;
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        std::fs::remove_file(&index).map_err(io_err(&index))?;
    }
    let config = serde_json::to_vec_pretty(&cfg.to_hub_json(torch_dtype))
        .map_err(|e| ckpt_err(&dir.join("config.json"), e.to_string()))?;
    write_atomic(&dir.join("config.json"), &config)
}

fn step_dir_name(step: u64) -> String {
    format!("step-{step}")
}

fn parse_step_dir(name: &str) -> Option<u64> {
    let n = name.strip_prefix("step-")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

fn valid_group_name(g: &str) -> bool {
    !g.is_empty()
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Writes a training checkpoint `root/step-{step}` (see the module docs: temporary directory,
/// fsync, rename, then `root/latest` replaced atomically) and returns its path. `groups` are
/// named tensor sets (`"policy"`, `"policy_optim"`, …; names of ASCII letters, digits, `_`, `-`),
/// `state` any JSON the run needs to resume. An existing `step-{step}` is replaced. Afterwards
/// only the newest `keep_last` checkpoints are kept (0 keeps all), and leftovers of interrupted
/// writes are removed.
pub fn save_checkpoint(
    root: &Path,
    step: u64,
    groups: &[(&str, Vec<(String, Tensor)>)],
    state: &serde_json::Value,
    keep_last: usize,
) -> Result<PathBuf> {
    let mut names: Vec<String> = Vec::with_capacity(groups.len());
    for (g, _) in groups {
        if !valid_group_name(g) || names.iter().any(|n| n == g) {
            return Err(ckpt_err(
                root,
                format!("invalid or duplicate tensor group name {g:?}"),
            ));
        }
        names.push(g.to_string());
    }
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    let final_dir = root.join(step_dir_name(step));
    let tmp = root.join(temp_name(&step_dir_name(step)));
    let write = || -> Result<()> {
        std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        for (g, tensors) in groups {
            write_safetensors(&tmp.join(format!("{g}.safetensors")), tensors)?;
        }
        let manifest = TrainingCheckpoint {
            format: FORMAT,
            step,
            groups: names.clone(),
            state: state.clone(),
        };
        let path = tmp.join(MANIFEST);
        let bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| ckpt_err(&path, e.to_string()))?;
        let mut f = std::fs::File::create(&path).map_err(io_err(&path))?;
        f.write_all(&bytes).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        sync_dir(&tmp);
        if final_dir.exists() {
            // Move the old one aside first: a rename cannot replace a non-empty directory.
            let old = root.join(temp_name(&format!("old-{}", step_dir_name(step))));
            std::fs::rename(&final_dir, &old).map_err(io_err(&final_dir))?;
            let _ = std::fs::remove_dir_all(&old);
        }
        std::fs::rename(&tmp, &final_dir).map_err(io_err(&final_dir))?;
        sync_dir(root);
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    write_atomic(
        &root.join(LATEST),
        format!("{}\n", step_dir_name(step)).as_bytes(),
    )?;
    prune(root, &final_dir, keep_last)?;
    Ok(final_dir)
}

/// The `step-N` directories under `root`, newest first.
fn step_dirs(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).map_err(io_err(root))? {
        let e = e.map_err(io_err(root))?;
        let name = e.file_name();
        if let Some(step) = name.to_str().and_then(parse_step_dir) {
            if e.path().is_dir() {
                out.push((step, e.path()));
            }
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    Ok(out)
}

/// Removes all but the newest `keep_last` checkpoints (never `current`) and temporary
/// leftovers of interrupted writes.
fn prune(root: &Path, current: &Path, keep_last: usize) -> Result<()> {
    for e in std::fs::read_dir(root).map_err(io_err(root))?.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
    if keep_last == 0 {
        return Ok(());
    }
    for (_, dir) in step_dirs(root)?.into_iter().skip(keep_last) {
        if dir != current {
            std::fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        }
    }
    Ok(())
}

/// Reads and checks `dir/checkpoint.json` and that every group file exists.
fn read_manifest(dir: &Path) -> Result<TrainingCheckpoint> {
    let path = dir.join(MANIFEST);
    let s = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let m: TrainingCheckpoint = serde_json::from_str(&s).map_err(|e| Error::Json {
        path: path.clone(),
        msg: e.to_string(),
    })?;
    if m.format != FORMAT {
        return Err(ckpt_err(
            &path,
            format!("unsupported format {} (expected {FORMAT})", m.format),
        ));
    }
    for g in &m.groups {
        if !valid_group_name(g) {
            return Err(ckpt_err(&path, format!("invalid group name {g:?}")));
        }
        let f = dir.join(format!("{g}.safetensors"));
        if !f.is_file() {
            return Err(ckpt_err(&f, "tensor group file is missing"));
        }
    }
    Ok(m)
}

fn load_dir(dir: &Path, m: TrainingCheckpoint) -> Result<LoadedCheckpoint> {
    let mut groups = HashMap::with_capacity(m.groups.len());
    for g in &m.groups {
        let f = dir.join(format!("{g}.safetensors"));
        let ts = crate::weights::read_safetensors(&f, &Device::Cpu)?;
        groups.insert(g.clone(), ts);
    }
    Ok(LoadedCheckpoint {
        dir: dir.to_path_buf(),
        step: m.step,
        groups,
        state: m.state,
    })
}

/// A checkpoint directory passed over by [`load_latest_checkpoint`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCheckpoint {
    /// The directory (`root/step-N`).
    pub dir: PathBuf,
    /// What is wrong with it (names the file at fault).
    pub reason: String,
}

/// The checkpoint [`load_latest_checkpoint`] chose, and the newer ones it had to pass over.
#[derive(Debug)]
pub struct FoundCheckpoint {
    /// The newest valid checkpoint.
    pub checkpoint: LoadedCheckpoint,
    /// Damaged or partial checkpoints that were newer (or named by `latest`), newest first.
    pub skipped: Vec<SkippedCheckpoint>,
}

/// The checkpoint to resume from under `root`: the one `root/latest` names, or, when `latest`
/// is missing or names a missing or damaged directory, the newest valid `step-N`. Every
/// checkpoint passed over is reported in [`FoundCheckpoint::skipped`] (never in silence).
/// Temporary directories of interrupted writes are ignored.
///
/// `Ok(None)` when `root` holds no checkpoint (or does not exist); an error naming the newest
/// one and what is wrong with it when `root` holds checkpoints but none is valid, so that a
/// caller never mistakes damaged checkpoints for a run that has not started.
pub fn load_latest_checkpoint(root: &Path) -> Result<Option<FoundCheckpoint>> {
    if !root.is_dir() {
        return Ok(None);
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    let mut skipped = Vec::new();
    let latest = root.join(LATEST);
    if let Ok(s) = std::fs::read_to_string(&latest) {
        let name = s.trim();
        let dir = root.join(name);
        if parse_step_dir(name).is_some() && dir.is_dir() {
            candidates.push(dir);
        } else {
            skipped.push(SkippedCheckpoint {
                dir: latest.clone(),
                reason: format!("names {name:?}, which is not a checkpoint directory"),
            });
        }
    }
    for (_, dir) in step_dirs(root)? {
        if !candidates.contains(&dir) {
            candidates.push(dir);
        }
    }
    for dir in candidates {
        match read_manifest(&dir).and_then(|m| load_dir(&dir, m)) {
            Ok(checkpoint) => {
                return Ok(Some(FoundCheckpoint {
                    checkpoint,
                    skipped,
                }))
            }
            Err(e) => skipped.push(SkippedCheckpoint {
                dir,
                reason: e.to_string(),
            }),
        }
    }
    match skipped.iter().find(|s| s.dir != latest) {
        None => Ok(None),
        Some(newest) => Err(ckpt_err(
            root,
            format!(
                "none of its {} checkpoints is valid (newest: {})",
                skipped.iter().filter(|s| s.dir != latest).count(),
                newest.reason
            ),
        )),
    }
}

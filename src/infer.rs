//! Model stage: ONNX Runtime sessions, built once and reused.
//!
//! `ort` sessions need `&mut` to run, so an [`Model`] holds a small pool of sessions
//! behind their own locks: callers on different threads run concurrently up to the pool
//! size, and everything outside the forward pass (tokenizing, decoding) never waits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use crate::card::ModelCard;
use crate::error::{Error, Result};

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// ONNX Runtime's CPU provider.
    #[default]
    Cpu,
    /// CUDA; loading fails if CUDA cannot be used.
    Cuda,
    /// CUDA when it works, otherwise CPU (the provider that ran is reported).
    Auto,
}

impl std::str::FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda),
            "auto" => Ok(Device::Auto),
            other => Err(Error::Options(format!(
                "unknown device {other:?}: use cpu, cuda or auto"
            ))),
        }
    }
}

/// The process's one ONNX Runtime environment and the library it came from. Only a
/// successful load is kept, so a call naming a missing library can be retried with
/// another.
static ENVIRONMENT: OnceLock<(PathBuf, ort::environment::Environment)> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The ONNX Runtime library path: the explicit one, else `ORT_DYLIB_PATH`, else
/// `libonnxruntime.so` next to the executable, else `.ort/libonnxruntime.so` in the
/// working directory (where `scripts/setup-ort.sh` puts it).
pub fn runtime_library(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("libonnxruntime.so")))
        .filter(|p| p.exists());
    beside_exe.unwrap_or_else(|| PathBuf::from(".ort/libonnxruntime.so"))
}

/// Loads the runtime once per process (ONNX Runtime allows one environment); later
/// calls reuse it, whatever library they name.
fn environment(library: &Path) -> Result<&'static ort::environment::Environment> {
    if let Some((_, env)) = ENVIRONMENT.get() {
        return Ok(env);
    }
    // a poisoned lock only means another thread's load panicked; nothing it guards is left half-made
    let _loading = LOADING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, env)) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let missing = |message: String| Error::RuntimeMissing {
        path: library.to_path_buf(),
        message,
    };
    if !library.exists() {
        return Err(missing("file not found".to_string()));
    }
    let env = ort::init_from(library)
        .map_err(|e| missing(e.to_string()))?
        .with_name("erx")
        .build()
        .map_err(|e| missing(e.to_string()))?;
    Ok(&ENVIRONMENT.get_or_init(|| (library.to_path_buf(), env)).1)
}

/// The ONNX Runtime library this process loaded, once a model has been loaded. There is
/// one per process: models loaded later share it, whatever library their options name.
pub fn loaded_runtime_library() -> Option<&'static Path> {
    ENVIRONMENT.get().map(|(path, _)| path.as_path())
}

/// Inputs of one forward pass: `rows` windows of `cols` pieces, row-major.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Piece ids, padded.
    pub ids: Vec<i64>,
    /// Casing classes, padded with 0.
    pub case_ids: Vec<i64>,
    /// 1 for real pieces, 0 for padding.
    pub mask: Vec<i64>,
    /// Number of windows.
    pub rows: usize,
    /// Padded length.
    pub cols: usize,
}

/// Outputs of one forward pass, read in place from the runtime's buffers (the relation
/// projections are hundreds of floats per piece; only mention pieces are ever read).
#[derive(Debug, Clone, Copy)]
pub struct BatchOutput<'a> {
    entity: &'a [f32],
    value: &'a [f32],
    phrase: &'a [f32],
    head: &'a [f32],
    tail: &'a [f32],
    phrase_token: &'a [f32],
    phrase_head: &'a [f32],
    phrase_tail: &'a [f32],
    rel_context: &'a [f32],
    cols: usize,
    n_tags: usize,
    n_values: usize,
    rel_width: usize,
    phrase_rank: usize,
    n_relations: usize,
}

impl<'a> BatchOutput<'a> {
    /// Row `pos` of window `row` in an output of `width` values per piece; empty for an
    /// output the model does not have.
    fn at(&self, data: &'a [f32], width: usize, row: usize, pos: usize) -> &'a [f32] {
        let i = (row * self.cols + pos) * width;
        data.get(i..i + width).unwrap_or(&[])
    }
    /// Entity logits of piece `pos` of window `row`.
    pub fn entity(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.entity, self.n_tags, row, pos)
    }
    /// Value tag logits (empty without a value head).
    pub fn value(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.value, self.n_values, row, pos)
    }
    /// Predicate logits (empty without a predicate tagger).
    pub fn phrase(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.phrase, 3, row, pos)
    }
    /// Relation head projection.
    pub fn rel_head(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.head, self.rel_width, row, pos)
    }
    /// Relation tail projection.
    pub fn rel_tail(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.tail, self.rel_width, row, pos)
    }
    /// Phrase-scorer token projection (`rank + 1` values; empty without a scorer).
    pub fn phrase_token(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.phrase_token, self.phrase_rank + 1, row, pos)
    }
    /// Phrase-scorer head projection (`rank` values).
    pub fn phrase_head(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.phrase_head, self.phrase_rank, row, pos)
    }
    /// Phrase-scorer tail projection (`rank` values).
    pub fn phrase_tail(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.phrase_tail, self.phrase_rank, row, pos)
    }
    /// Pair-context scores (`2 × relations` values; empty without pair context).
    pub fn rel_context(&self, row: usize, pos: usize) -> &'a [f32] {
        self.at(self.rel_context, 2 * self.n_relations, row, pos)
    }
}

/// A loaded model: a pool of sessions plus the names from the model card.
pub struct Model {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    card: ModelCard,
    provider: &'static str,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("sessions", &self.sessions.len())
            .field("provider", &self.provider)
            .finish()
    }
}

/// How to build the sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Intra-op threads per session.
    pub threads: usize,
    /// Sessions in the pool (concurrent forward passes).
    pub sessions: usize,
    /// Execution provider.
    pub device: Device,
    /// ONNX Runtime library to load (see [`runtime_library`]).
    pub library: Option<PathBuf>,
}

impl Model {
    /// Builds the session pool for `onnx` as described by `card`.
    pub fn load(onnx: &Path, card: ModelCard, config: &SessionConfig) -> Result<Self> {
        let env = environment(&runtime_library(config.library.as_deref()))?;
        let mut sessions = Vec::new();
        let mut provider = "cpu";
        for _ in 0..config.sessions.max(1) {
            let (session, p) = build_session(env, onnx, config)?;
            provider = p;
            sessions.push(Mutex::new(session));
        }
        let model = Model {
            sessions,
            next: AtomicUsize::new(0),
            card,
            provider,
        };
        model.check_names(onnx)?;
        Ok(model)
    }

    /// The execution provider that runs the model: `cpu` or `cuda`.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    fn check_names(&self, onnx: &Path) -> Result<()> {
        let session = self.lock(0);
        let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        let c = &self.card;
        let want_in = [
            Some(&c.inputs.input_ids),
            Some(&c.inputs.attention_mask),
            c.inputs.case_ids.as_ref(),
        ];
        let o = &c.outputs;
        let want_out = [
            Some(&o.entity_logits),
            o.value_logits.as_ref(),
            o.phrase_logits.as_ref(),
            Some(&o.rel_head),
            Some(&o.rel_tail),
            o.phrase_token.as_ref(),
            o.phrase_head.as_ref(),
            o.phrase_tail.as_ref(),
            o.rel_context.as_ref(),
        ];
        for name in want_in.into_iter().flatten() {
            if !inputs.contains(&name.as_str()) {
                return Err(card_mismatch(
                    onnx,
                    format!("input {name:?} not in graph inputs {inputs:?}"),
                ));
            }
        }
        for name in want_out.into_iter().flatten() {
            if !outputs.contains(&name.as_str()) {
                return Err(card_mismatch(
                    onnx,
                    format!("output {name:?} not in graph outputs {outputs:?}"),
                ));
            }
        }
        Ok(())
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Session> {
        // a panic while running cannot leave a session in a state we rely on
        self.sessions[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one batch on a free session (or waits for the next one in turn) and hands
    /// its outputs to `read` while they are still in the runtime's buffers.
    pub fn run<T>(&self, batch: Batch, read: impl FnOnce(BatchOutput<'_>) -> T) -> Result<T> {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let free = (0..n).find_map(|k| self.sessions[(start + k) % n].try_lock().ok());
        let mut session = match free {
            Some(g) => g,
            None => self.lock(start),
        };
        let Batch {
            ids,
            case_ids,
            mask,
            rows,
            cols,
        } = batch;
        let shape = [rows, cols];
        let c = &self.card;
        let mut inputs = ort::inputs![
            c.inputs.input_ids.as_str() => Tensor::from_array((shape, ids))?,
            c.inputs.attention_mask.as_str() => Tensor::from_array((shape, mask))?,
        ];
        if let Some(name) = &c.inputs.case_ids {
            inputs.push((
                name.as_str().into(),
                Tensor::from_array((shape, case_ids))?.into(),
            ));
        }
        let outputs = session.run(inputs)?;
        let n_tags = c.entity_tags.len();
        let rel_width = c.relations.len() * c.relation_rank;
        let view = |name: &str, width: usize| -> Result<&[f32]> {
            let (shape, data) = outputs[name].try_extract_tensor::<f32>()?;
            let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            if dims.len() < 3
                || dims[0] != rows
                || dims[1] != cols
                || dims[2..].iter().product::<usize>() != width
            {
                return Err(Error::OutputShape {
                    name: name.to_string(),
                    shape: dims,
                    expected: format!("[{rows}, {cols}, {width}]"),
                });
            }
            Ok(data)
        };
        let n_values = c.value_tags.len();
        let phrase_rank = c.phrase_scorer.as_ref().map_or(0, |p| p.rank);
        let optional = |name: &Option<String>, width: usize| -> Result<&[f32]> {
            name.as_deref().map_or(Ok(&[][..]), |n| view(n, width))
        };
        Ok(read(BatchOutput {
            entity: view(&c.outputs.entity_logits, n_tags)?,
            value: optional(&c.outputs.value_logits, n_values)?,
            phrase: optional(&c.outputs.phrase_logits, 3)?,
            head: view(&c.outputs.rel_head, rel_width)?,
            tail: view(&c.outputs.rel_tail, rel_width)?,
            phrase_token: optional(&c.outputs.phrase_token, phrase_rank + 1)?,
            phrase_head: optional(&c.outputs.phrase_head, phrase_rank)?,
            phrase_tail: optional(&c.outputs.phrase_tail, phrase_rank)?,
            rel_context: optional(&c.outputs.rel_context, 2 * c.relations.len())?,
            cols,
            n_tags,
            n_values,
            rel_width,
            phrase_rank,
            n_relations: c.relations.len(),
        }))
    }
}

fn card_mismatch(onnx: &Path, message: String) -> Error {
    Error::ModelCard {
        path: onnx.with_file_name("erx.json"),
        message,
    }
}

fn builder_err<T>(e: ort::Error<T>) -> Error {
    Error::Runtime(e.to_string())
}

fn build_session(
    env: &ort::environment::Environment,
    onnx: &Path,
    config: &SessionConfig,
) -> Result<(Session, &'static str)> {
    let base = || -> Result<ort::session::builder::SessionBuilder> {
        Session::builder(env)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(builder_err)?
            .with_intra_threads(config.threads.max(1))
            .map_err(builder_err)?
            .with_inter_threads(1)
            .map_err(builder_err)
    };
    let commit = |mut b: ort::session::builder::SessionBuilder| -> Result<Session> {
        b.commit_from_file(onnx)
            .map_err(|e| Error::Runtime(format!("cannot load {}: {e}", onnx.display())))
    };
    match config.device {
        Device::Cpu => Ok((commit(base()?)?, "cpu")),
        Device::Cuda | Device::Auto => {
            let cuda = ort::ep::CUDA::default().build().error_on_failure();
            let with_cuda = base()?
                .with_execution_providers([cuda])
                .map_err(builder_err)
                .and_then(commit);
            match (with_cuda, config.device) {
                (Ok(s), _) => Ok((s, "cuda")),
                (Err(e), Device::Cuda) => Err(Error::Device {
                    provider: "cuda".into(),
                    message: format!(
                        "{e}\n  fix: install the GPU runtime with `scripts/setup-ort.sh --gpu` and set \
                         ORT_DYLIB_PATH=.ort-gpu/libonnxruntime.so (needs CUDA 12/13 and cuDNN 9), or use --device cpu"
                    ),
                }),
                (Err(_), _) => Ok((commit(base()?)?, "cpu")),
            }
        }
    }
}

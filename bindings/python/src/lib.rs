//! Python bindings of erx: `erx.Extractor` wraps [`erx::Extractor`], nothing more.
//!
//! Documents cross into Python as the very JSON the CLI prints (serialised by serde, read
//! by Python's `json`), so a dict from `extract` equals the CLI's line parsed. Extraction
//! runs with the GIL released, so Python threads that share one `Extractor` run in
//! parallel on its session pool.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use erx::record::{self, RecordText};
use erx::{Document, Options, Sentences};
use pyo3::exceptions::{PyException, PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyInt, PyIterator, PyList, PyMapping, PyString, PyTuple,
};
use serde_json::json;

pyo3::create_exception!(
    erx,
    ErxError,
    PyException,
    "A model that cannot be loaded, ONNX Runtime that cannot be found or started, or an \
     extraction that failed; the message is the erx library's."
);

/// The repository the package was built from: its `models/` and `.ort/` are the defaults
/// when the package is installed from a checkout.
const REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The default model's folder name, as for the CLI.
const DEFAULT_MODEL: &str = "models/erx-news-v2";

/// The first ONNX Runtime release whose C API (version 22) the erx crate is built against.
const ORT_MIN_VERSION: (u32, u32) = (1, 22);

fn library_error(e: erx::Error) -> PyErr {
    match e {
        erx::Error::Options(_) => PyValueError::new_err(e.to_string()),
        other => ErxError::new_err(other.to_string()),
    }
}

/// `model`, else `$ERX_MODEL`, else `models/erx-news-v2` in the working directory, else in
/// the repository the package was built from (the CLI's order, plus the last). A bare
/// `model` name that is no folder here (`"erx-news-v2-fast"`) names a shipped model, as
/// with the CLI's `--model`.
fn model_dir(model: Option<PathBuf>) -> PyResult<PathBuf> {
    if let Some(m) = model {
        if !m.exists() && m.components().count() == 1 {
            if let Some(found) = shipped_model(&Path::new("models").join(&m)) {
                return Ok(found);
            }
        }
        return Ok(m);
    }
    if let Some(m) = std::env::var_os("ERX_MODEL") {
        return Ok(PathBuf::from(m));
    }
    shipped_model(Path::new(DEFAULT_MODEL)).ok_or_else(|| {
        ErxError::new_err(format!(
            "no model found: pass Extractor(\"path/to/model\") or set ERX_MODEL (the default, \
             {DEFAULT_MODEL}, is neither in the working directory nor in {})",
            Path::new(REPOSITORY).display()
        ))
    })
}

/// `relative` (such as `models/erx-news-v2`) in the working directory, else in the
/// repository the package was built from, if it holds a model card.
fn shipped_model(relative: &Path) -> Option<PathBuf> {
    [relative.to_path_buf(), Path::new(REPOSITORY).join(relative)]
        .into_iter()
        .find(|dir| dir.join("erx.json").is_file())
        .map(|dir| std::fs::canonicalize(&dir).unwrap_or(dir))
}

/// `runtime_library`, else nothing when `$ORT_DYLIB_PATH` is set (the library reads it),
/// else the `libonnxruntime` of an installed `onnxruntime` package (one copy of ONNX
/// Runtime, not two), else the repository's `.ort/` from `scripts/setup-ort.sh`, else
/// nothing (the library then looks in `.ort/` and says how to fix it).
fn runtime_library(py: Python<'_>, explicit: Option<PathBuf>) -> Option<PathBuf> {
    if explicit.is_some() || std::env::var_os("ORT_DYLIB_PATH").is_some() {
        return explicit;
    }
    onnxruntime_package_library(py).or_else(|| {
        let repo = Path::new(REPOSITORY).join(".ort/libonnxruntime.so");
        repo.is_file().then_some(repo)
    })
}

/// The shared library inside the installed `onnxruntime` import package (from the
/// `onnxruntime` wheel or a flavour such as `onnxruntime-gpu`), found without importing
/// it; `None` when there is none or its file name says it is older than the C API erx
/// needs.
fn onnxruntime_package_library(py: Python<'_>) -> Option<PathBuf> {
    let spec = py
        .import("importlib.util")
        .ok()?
        .call_method1("find_spec", ("onnxruntime",))
        .ok()?;
    if spec.is_none() {
        return None;
    }
    let locations = spec.getattr("submodule_search_locations").ok()?;
    let package: PathBuf = locations.try_iter().ok()?.next()?.ok()?.extract().ok()?;
    let mut libraries: Vec<PathBuf> = std::fs::read_dir(package.join("capi"))
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    libraries.sort();
    let library = libraries.pop()?;
    // libonnxruntime.so.1.31.1 → (1, 31); a name without a version is taken as it is
    let name = library.file_name()?.to_str()?;
    let mut version = name
        .strip_prefix("libonnxruntime.so.")
        .unwrap_or("")
        .split('.')
        .map(|part| part.parse::<u32>().ok());
    if let (Some(Some(major)), Some(Some(minor))) = (version.next(), version.next()) {
        if (major, minor) < ORT_MIN_VERSION {
            return None;
        }
    }
    Some(library)
}

fn parse_sentences(mode: &str) -> PyResult<Sentences> {
    match mode {
        "split" => Ok(Sentences::Split),
        "lines" => Ok(Sentences::Lines),
        "whole" => Ok(Sentences::Whole),
        other => Err(PyValueError::new_err(format!(
            "unknown sentences mode {other:?}: use \"split\", \"lines\" or \"whole\""
        ))),
    }
}

/// Python objects from JSON text, by Python's own parser.
fn loads<'py>(py: Python<'py>, json: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (json,))
}

fn serialise_error(e: serde_json::Error) -> PyErr {
    ErxError::new_err(format!("cannot serialise a record: {e}"))
}

/// The JSON type name of a Python value, for messages that match the CLI's.
fn json_kind(value: &Bound<'_, PyAny>) -> String {
    if value.is_none() {
        "null".into()
    } else if value.is_instance_of::<PyBool>() {
        "boolean".into()
    } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        "number".into()
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        "array".into()
    } else if value.is_instance_of::<PyDict>() || value.is_instance_of::<PyMapping>() {
        "object".into()
    } else {
        value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "unknown".into())
    }
}

/// The bytes of one JSONL line. A `str` that holds lone surrogates (a file read with
/// `errors="surrogateescape"`) gives back the bytes they stand for, so that the record
/// reads as "not valid UTF-8", as in the CLI.
fn line_bytes(line: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = line.cast::<PyString>() {
        if let Ok(text) = s.to_str() {
            return Ok(text.as_bytes().to_vec());
        }
        let encoded = s
            .call_method1("encode", ("utf-8", "surrogateescape"))
            .or_else(|_| s.call_method1("encode", ("utf-8", "surrogatepass")))?;
        return Ok(encoded.cast::<PyBytes>()?.as_bytes().to_vec());
    }
    if let Ok(b) = line.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "lines must be str or bytes, got {}",
        json_kind(line)
    )))
}

/// `mapping[key]`, or `None` when the key is missing.
fn get_field<'py>(mapping: &Bound<'py, PyAny>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    match mapping.get_item(key) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<PyKeyError>(mapping.py()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A `pipe` item's id (any Python object, echoed as given) and its text or why it has none.
type PipeItem<'py> = (Option<Bound<'py, PyAny>>, Result<String, String>);

/// A Python string as a Rust one, or the record error for one that holds lone
/// surrogates (which UTF-8 cannot carry).
fn string_text(text: &Bound<'_, PyString>) -> Result<String, String> {
    match text.to_str() {
        Ok(t) => record::non_blank(t.to_owned()),
        Err(e) => Err(format!("text is not valid Unicode ({e})")),
    }
}

/// One `pipe` item as (id, text): a `str` is a text; a mapping holds the text and id
/// fields. Anything else, and a mapping that fails to give its fields, is a record error,
/// not an exception, so that every item yields one output.
fn read_item<'py>(item: &Bound<'py, PyAny>, text_field: &str, id_field: &str) -> PipeItem<'py> {
    if let Ok(text) = item.cast::<PyString>() {
        return (None, string_text(text));
    }
    if !(item.is_instance_of::<PyDict>() || item.is_instance_of::<PyMapping>()) {
        return (
            None,
            Err(format!(
                "expected a str or a mapping with a {text_field:?} field, got {}",
                json_kind(item)
            )),
        );
    }
    let id = match get_field(item, id_field) {
        Ok(id) => id,
        Err(e) => return (None, Err(format!("cannot read field {id_field:?}: {e}"))),
    };
    let text = match get_field(item, text_field) {
        Ok(Some(value)) => match value.cast::<PyString>() {
            Ok(text) => string_text(text),
            Err(_) => Err(format!(
                "field {text_field:?} is not a string ({})",
                json_kind(&value)
            )),
        },
        Ok(None) => Err(format!(
            "no {text_field:?} field (pass text_field= to read another field)"
        )),
        Err(e) => Err(format!("cannot read field {text_field:?}: {e}")),
    };
    (id, text)
}

/// Entity and relation extraction with one model, loaded once; share it between threads.
#[pyclass(module = "erx._erx", frozen)]
struct Extractor {
    inner: erx::Extractor,
    model_dir: PathBuf,
}

impl Extractor {
    fn documents<'py>(&self, py: Python<'py>, texts: &[String]) -> PyResult<Bound<'py, PyAny>> {
        let json = py
            .detach(|| {
                self.inner
                    .extract_batch(texts)
                    .map(|docs| serde_json::to_string(&docs))
            })
            .map_err(library_error)?
            .map_err(serialise_error)?;
        loads(py, &json)
    }
}

#[pymethods]
impl Extractor {
    #[new]
    #[pyo3(signature = (
        model=None, *, threads=2, sessions=None, device="cpu", batch_tokens=512,
        batch_windows=1, sentences="split", relation_threshold=None, sentence_labels=false,
        open_relations=true, window=None, overlap=None, runtime_library=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: Option<PathBuf>,
        threads: usize,
        sessions: Option<usize>,
        device: &str,
        batch_tokens: usize,
        batch_windows: usize,
        sentences: &str,
        relation_threshold: Option<f32>,
        sentence_labels: bool,
        open_relations: bool,
        window: Option<usize>,
        overlap: Option<usize>,
        runtime_library: Option<PathBuf>,
    ) -> PyResult<Self> {
        let model_dir = model_dir(model)?;
        let runtime_library = self::runtime_library(py, runtime_library);
        let options = Options {
            batch_tokens,
            batch_windows,
            device: device.parse().map_err(library_error)?,
            sentences: parse_sentences(sentences)?,
            relation_threshold,
            harmonise_labels: !sentence_labels,
            open_relations,
            window_tokens: window,
            overlap_tokens: overlap,
            runtime_library,
            ..Options::default()
        }
        .with_threads(threads, sessions)
        .map_err(library_error)?;
        let inner = py
            .detach(|| erx::Extractor::load(&model_dir, options))
            .map_err(|e| match e {
                erx::Error::Options(_) => library_error(e),
                e => ErxError::new_err(format!(
                    "cannot load the model in {}: {e}",
                    model_dir.display()
                )),
            })?;
        Ok(Extractor { inner, model_dir })
    }

    /// Entities and relations of one text, as the dict the CLI prints for it.
    fn extract<'py>(&self, py: Python<'py>, text: String) -> PyResult<Bound<'py, PyAny>> {
        // serialised with the GIL released, as in extract_batch
        let json = py
            .detach(|| {
                self.inner
                    .extract(&text)
                    .map(|doc| serde_json::to_string(&doc))
            })
            .map_err(library_error)?
            .map_err(serialise_error)?;
        loads(py, &json)
    }

    /// One dict per text, in order; the texts share forward passes.
    fn extract_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.documents(py, &texts)
    }

    /// A generator of one dict per item, in order, extracting `batch_size` items at a time.
    #[pyo3(signature = (items, batch_size=128, *, text_field="text", id_field="id"))]
    fn pipe(
        slf: Bound<'_, Self>,
        items: &Bound<'_, PyAny>,
        batch_size: usize,
        text_field: &str,
        id_field: &str,
    ) -> PyResult<Pipe> {
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        Ok(Pipe {
            extractor: slf.unbind(),
            items: items.try_iter()?.unbind(),
            batch_size,
            text_field: text_field.to_owned(),
            id_field: id_field.to_owned(),
            ready: VecDeque::new(),
            position: 0,
            exhausted: false,
            failed: None,
        })
    }

    /// JSONL lines (str or bytes) to output records, exactly as `erx extract` writes them;
    /// with `as_json`, as the JSON text of each record (serde's, byte for byte the CLI's).
    #[pyo3(signature = (
        lines, *, source="-", first_line=1, text_field="text", id_field="id", as_json=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn extract_jsonl<'py>(
        &self,
        py: Python<'py>,
        lines: Vec<Bound<'py, PyAny>>,
        source: &str,
        first_line: usize,
        text_field: &str,
        id_field: &str,
        as_json: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut records: Vec<(usize, RecordText)> = Vec::with_capacity(lines.len());
        for (offset, line) in lines.iter().enumerate() {
            let bytes = line_bytes(line)?;
            let mut bytes: &[u8] = &bytes;
            // a byte-order mark opening a file is framing, not part of its first record
            if first_line == 1 && offset == 0 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            if let Some(r) = record::parse_jsonl_line(bytes, text_field, id_field) {
                records.push((first_line + offset, r));
            }
        }
        let out: serde_json::Result<Vec<String>> = py.detach(|| {
            let results = record::extract_each(
                &self.inner,
                records
                    .iter()
                    .map(|(_, r)| r.text.as_deref().map_err(String::as_str)),
            );
            records
                .into_iter()
                .zip(results)
                .map(|((line, r), result)| match result {
                    Ok(mut doc) => {
                        doc.id = r.id;
                        serde_json::to_string(&doc)
                    }
                    Err(message) => {
                        let place = [("source", json!(source)), ("line", json!(line))];
                        serde_json::to_string(&record::error_record(
                            r.id.as_ref(),
                            &place,
                            &message,
                        ))
                    }
                })
                .collect()
        });
        let out = out.map_err(serialise_error)?;
        if as_json {
            return Ok(PyList::new(py, out)?.into_any());
        }
        loads(py, &format!("[{}]", out.join(",")))
    }

    /// The model's name, from its card.
    #[getter]
    fn model(&self) -> String {
        self.inner.card().name.clone()
    }

    /// The model folder that was loaded.
    #[getter]
    fn model_dir(&self) -> String {
        self.model_dir.display().to_string()
    }

    /// The execution provider that runs the model: "cpu" or "cuda".
    #[getter]
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    /// The ONNX Runtime library the process loaded (one per process: the first model
    /// loaded chose it).
    #[getter]
    fn runtime_library(&self) -> Option<String> {
        erx::infer::loaded_runtime_library().map(|p| p.display().to_string())
    }

    /// The model card (`erx.json`) as a dict.
    #[getter]
    fn card<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(
            py,
            &serde_json::to_string(self.inner.card()).map_err(serialise_error)?,
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Extractor(model={:?}, provider={:?})",
            self.model_dir.display().to_string(),
            self.inner.provider()
        )
    }
}

/// The iterator `Extractor.pipe` returns.
#[pyclass(module = "erx._erx")]
struct Pipe {
    extractor: Py<Extractor>,
    items: Py<PyIterator>,
    batch_size: usize,
    text_field: String,
    id_field: String,
    ready: VecDeque<Py<PyAny>>,
    position: usize,
    exhausted: bool,
    /// An error the iterable raised, held back until the records read before it are out.
    failed: Option<PyErr>,
}

impl Pipe {
    /// Reads up to `batch_size` items, extracts them and queues one output per item. When
    /// the iterable raises, the items read before it still yield their records; the error
    /// is raised after them.
    fn fill(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut items = self.items.bind(py).clone();
        let mut batch = Vec::with_capacity(self.batch_size);
        while batch.len() < self.batch_size {
            match items.next() {
                Some(Ok(item)) => batch.push(read_item(&item, &self.text_field, &self.id_field)),
                Some(Err(e)) => {
                    self.failed = Some(e);
                    self.exhausted = true;
                    break;
                }
                None => {
                    self.exhausted = true;
                    break;
                }
            }
        }
        let extractor = self.extractor.get();
        let texts: Vec<Result<&str, &str>> = batch
            .iter()
            .map(|(_, text)| text.as_deref().map_err(String::as_str))
            .collect();
        let (results, docs_json) = py.detach(|| {
            let results = record::extract_each(&extractor.inner, texts);
            let docs: Vec<&Document> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            let json = serde_json::to_string(&docs);
            (results, json)
        });
        let docs_json = docs_json.map_err(serialise_error)?;
        let mut docs = loads(py, &docs_json)?.try_iter()?;
        for ((id, _), result) in batch.into_iter().zip(&results) {
            let out = PyDict::new(py);
            if let Some(id) = id {
                out.set_item("id", id)?;
            }
            match result {
                Ok(_) => {
                    let doc = docs.next().ok_or_else(|| {
                        ErxError::new_err("internal error: a document went missing")
                    })??;
                    out.update(doc.cast::<PyMapping>()?)?;
                }
                Err(message) => {
                    out.set_item("index", self.position)?;
                    out.set_item("error", message)?;
                }
            }
            self.position += 1;
            self.ready.push_back(out.into_any().unbind());
        }
        Ok(())
    }
}

#[pymethods]
impl Pipe {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        while slf.ready.is_empty() && !slf.exhausted {
            slf.fill(py)?;
        }
        match slf.ready.pop_front() {
            Some(record) => Ok(Some(record)),
            None => slf.failed.take().map_or(Ok(None), Err),
        }
    }
}

/// The native half of the `erx` package.
#[pymodule]
fn _erx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Extractor>()?;
    m.add_class::<Pipe>()?;
    m.add("ErxError", m.py().get_type::<ErxError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

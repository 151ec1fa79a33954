"""Type stubs of the erx package (the implementation is the erx Rust crate)."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from os import PathLike
from typing import Any, Literal, Union

__version__: str

Document = dict[str, Any]
"""One document: ``{"entities": [...], "relations": [...], "meta": {...}}`` and, when the
input had one, ``"id"`` — the object ``erx extract`` prints as one JSON line
(docs/output-schema.md)."""

ErrorRecord = dict[str, Any]
"""Stands in for a document that could not be extracted: ``{"id"?, "index", "error"}``
from :meth:`Extractor.pipe`, ``{"id"?, "source", "line", "error"}`` from
:meth:`Extractor.extract_jsonl`."""

class ErxError(Exception):
    """A model that cannot be loaded, ONNX Runtime that cannot be found or started, or an
    extraction that failed; the message is the erx library's and says how to fix it."""

class Extractor:
    """Entity and relation extraction with one model, loaded once.

    Thread-safe: share one instance between threads. Extraction releases the GIL and runs
    on a pool of ``sessions`` ONNX Runtime sessions, so threads run in parallel.

    Args:
        model: model folder (``erx.json``, ``model.onnx``, ``tokenizer.json``), or the name
            of a model shipped in ``models/`` (``"erx-news-v2-fast"``). Default:
            ``$ERX_MODEL``, else ``models/erx-news-v2`` in the working directory, else in the
            repository the package was built from.
        threads: ONNX Runtime threads in all (as ``erx --threads``).
        sessions: sessions that run forward passes at once; default one single-threaded
            session per thread. Use 1 with ``device="cuda"``.
        device: ``"cpu"``, ``"cuda"`` (fails if CUDA is unusable) or ``"auto"``.
        batch_tokens: padded tokens per forward pass.
        batch_windows: most windows per forward pass (raise for GPUs).
        sentences: ``"split"`` (find sentence boundaries), ``"lines"`` (one sentence per
            line) or ``"whole"``.
        relation_threshold: one relation threshold for every label (default: the card's).
        sentence_labels: keep each mention's own label instead of one label per name.
        open_relations: also print label-free open links (models with a predicate tagger,
            the version-1 contract, only).
        window: pieces per window, special tokens included (default: the card's).
        overlap: pieces shared by consecutive chunks of an over-long sentence.
        runtime_library: ``libonnxruntime.so`` to load. Default: ``$ORT_DYLIB_PATH``, else
            the one inside the installed ``onnxruntime`` package (or a flavour such as
            ``onnxruntime-gpu``; 1.22 or newer), else the repository's ``.ort/``
            (``scripts/setup-ort.sh``). A process loads one: later extractors share it.

    Raises:
        ErxError: the model or ONNX Runtime cannot be loaded.
        ValueError: an option is out of range.
    """

    def __init__(
        self,
        model: Union[str, PathLike[str], None] = None,
        *,
        threads: int = 2,
        sessions: int | None = None,
        device: Literal["cpu", "cuda", "auto"] = "cpu",
        batch_tokens: int = 512,
        batch_windows: int = 1,
        sentences: Literal["split", "lines", "whole"] = "split",
        relation_threshold: float | None = None,
        sentence_labels: bool = False,
        open_relations: bool = True,
        window: int | None = None,
        overlap: int | None = None,
        runtime_library: Union[str, PathLike[str], None] = None,
    ) -> None: ...
    def extract(self, text: str) -> Document:
        """Entities and relations of one text (an empty text gives an empty document)."""
    def extract_batch(self, texts: Sequence[str]) -> list[Document]:
        """One document per text, in order; the texts share forward passes, which is
        faster than one call per text."""
    def pipe(
        self,
        items: Iterable[Union[str, Mapping[str, Any]]],
        batch_size: int = 128,
        *,
        text_field: str = "text",
        id_field: str = "id",
    ) -> Iterator[Union[Document, ErrorRecord]]:
        """An iterator over any iterable of texts or ``{"id", "text"}`` mappings, extracting
        ``batch_size`` items at a time (128, as ``erx extract --batch-docs``: smaller batches
        leave a session idle at each batch end), and yields exactly one dict per item, in order.

        A mapping's id is echoed as ``"id"``. An item that cannot be extracted (blank
        text, no text field, not a string) yields ``{"id"?, "index", "error"}`` instead
        of raising, so the stream never loses or reorders a record. If the iterable itself
        raises, the items read before the error still yield their records first."""
    def extract_jsonl(
        self,
        lines: Sequence[Union[str, bytes]],
        *,
        source: str = "-",
        first_line: int = 1,
        text_field: str = "text",
        id_field: str = "id",
        as_json: bool = False,
    ) -> Union[list[Union[Document, ErrorRecord]], list[str]]:
        """JSONL lines to output records exactly as ``erx extract`` writes them: one per
        non-blank line, errors as ``{"id"?, "source", "line", "error"}`` with
        ``line = first_line + position``; a byte-order mark opening line 1 is dropped.
        With ``as_json``, each record's JSON text (the CLI's bytes, without newline).
        For jobs that split a file (Spark)."""
    @property
    def model(self) -> str:
        """The model's name, from its card."""
    @property
    def model_dir(self) -> str:
        """The model folder that was loaded."""
    @property
    def provider(self) -> Literal["cpu", "cuda"]:
        """The execution provider that runs the model."""
    @property
    def runtime_library(self) -> str | None:
        """The ONNX Runtime library the process loaded (one per process)."""
    @property
    def card(self) -> dict[str, Any]:
        """The model card (``erx.json``)."""

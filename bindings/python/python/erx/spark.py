"""Running erx inside Spark executors: one Extractor per Python worker process.

PySpark is not imported here; ``scripts/spark_extract.py`` builds the job. Spark reuses
its Python workers between tasks (``spark.python.worker.reuse``, on by default), and this
module stays imported in them, so the model is loaded once per worker process, not once
per task or per record.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from ._erx import Extractor

_EXTRACTORS: dict[tuple, Extractor] = {}
_LOCK = threading.Lock()


def shared_extractor(model: str | None = None, **options: Any) -> Extractor:
    """The process's Extractor for ``model`` and ``options``, loaded on first use."""
    key = (model, tuple(sorted(options.items())))
    with _LOCK:
        extractor = _EXTRACTORS.get(key)
        if extractor is None:
            extractor = Extractor(model, **options)
            _EXTRACTORS[key] = extractor
        return extractor


def extract_numbered_lines(
    rows: Iterable[tuple[str, int]],
    *,
    source: str,
    model: str | None = None,
    batch_size: int = 64,
    text_field: str = "text",
    id_field: str = "id",
    **options: Any,
) -> Iterator[str]:
    """JSONL output lines for ``(line, index)`` pairs (``RDD.zipWithIndex`` of a JSONL
    file), exactly the records ``erx extract`` writes: one per non-blank line, in order,
    errors numbered by the line's place in ``source``."""
    extractor = shared_extractor(model, **options)
    lines: list[str] = []
    first = 0

    def flush() -> Iterator[str]:
        # serde's JSON text, byte for byte what the CLI writes (no round trip through dicts)
        yield from extractor.extract_jsonl(
            lines, source=source, first_line=first + 1,
            text_field=text_field, id_field=id_field, as_json=True,
        )

    for line, index in rows:
        # indices within a partition are consecutive; a gap would misnumber errors
        if lines and index != first + len(lines):
            yield from flush()
            lines = []
        if not lines:
            first = index
        lines.append(line)
        if len(lines) >= batch_size:
            yield from flush()
            lines = []
    if lines:
        yield from flush()

"""erx: fast entity and relation extraction for news text, in Rust on ONNX Runtime.

    >>> import erx
    >>> extractor = erx.Extractor()            # the default model, loaded once
    >>> doc = extractor.extract("Choe Son Hui was denied a visa by the State Department.")
    >>> [(e["label"], e["text"]) for e in doc["entities"]]

Every document is the dict that ``erx extract`` prints as one JSON line (see
docs/output-schema.md). The implementation is the erx Rust crate; this package only
wraps it.
"""

from ._erx import ErxError, Extractor, __version__

__all__ = ["ErxError", "Extractor", "__version__"]

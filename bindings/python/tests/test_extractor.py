"""Behaviour of the erx Python package against the erx CLI on the committed sample.

Needs the package installed (`pip install ./bindings/python`), the release CLI
(`cargo build --release`, or ERX_BIN) and the default model; scripts/test.sh does all
three.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import erx

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample.jsonl"
MODEL = ROOT / "models" / "erx-news-v2"

# Lines the CLI turns into error records, each for a different reason, between good ones.
BAD_LINES = [
    '{"id": "no-text", "body": "Paris is in France."}',
    '{"id": "blank", "text": "   "}',
    '{"id": "number", "text": 42}',
    "this is not JSON",
    '["an", "array"]',
]


def cli_binary():
    explicit = os.environ.get("ERX_BIN")
    if explicit:
        return explicit
    built = ROOT / "target" / "release" / "erx"
    if not built.exists():
        pytest.skip("build the CLI first: cargo build --release (or set ERX_BIN)")
    return str(built)


def run_cli(path):
    """The CLI's output records for a JSONL file (exit 2 means some records failed)."""
    proc = subprocess.run(
        [cli_binary(), "extract", "--quiet", "--model", str(MODEL), str(path)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode in (0, 2), proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def extractor():
    return erx.Extractor(MODEL)


@pytest.fixture(scope="module")
def sample_records():
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    """The sample with bad lines in between: every kind of record the CLI reports."""
    good = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = []
    for i, line in enumerate(good):
        lines.append(line)
        if i < len(BAD_LINES):
            lines.append(BAD_LINES[i])
    path = tmp_path_factory.mktemp("mixed") / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_extract_jsonl_equals_the_cli_record_for_record(extractor, mixed_file):
    expected = run_cli(mixed_file)
    lines = mixed_file.read_text(encoding="utf-8").splitlines()
    got = extractor.extract_jsonl(lines, source=str(mixed_file))
    assert len(got) == len(lines) == len(expected)
    assert got == expected
    assert sum("error" in r for r in got) == len(BAD_LINES)


def test_extract_jsonl_numbers_lines_from_first_line(extractor):
    got = extractor.extract_jsonl([b"not json", "", '{"id": 1, "text": "Paris."}'],
                                  source="part-3", first_line=41)
    assert got[0]["source"] == "part-3" and got[0]["line"] == 41
    assert got[0]["error"].startswith("invalid JSON")
    assert len(got) == 2  # the blank line is not a record, as in the CLI
    assert got[1]["id"] == 1 and "entities" in got[1]


def test_pipe_equals_the_cli_on_the_sample(extractor, sample_records, mixed_file):
    expected = [r for r in run_cli(mixed_file) if "error" not in r]
    got = list(extractor.pipe(sample_records, batch_size=4))
    assert got == expected


def test_extract_equals_the_cli_and_batch_equals_one_by_one(extractor, sample_records, mixed_file):
    texts = [r["text"] for r in sample_records]
    one_by_one = [extractor.extract(t) for t in texts]
    assert extractor.extract_batch(texts) == one_by_one
    expected = [r for r in run_cli(mixed_file) if "error" not in r]
    for doc, cli in zip(one_by_one, expected):
        cli.pop("id")
        assert doc == cli


def test_pipe_yields_one_record_per_item_in_order(extractor):
    items = [
        "Paris is the capital of France.",
        {"id": "a", "text": "Angela Merkel met Emmanuel Macron in Berlin."},
        "",
        {"id": 7},
        {"id": "n", "text": None},
        42,
        {"id": ("tuple", "id"), "text": "Toyota is based in Japan."},
    ]
    got = list(extractor.pipe(iter(items), batch_size=3))
    assert len(got) == len(items)
    assert "entities" in got[0] and "id" not in got[0]
    assert got[1]["id"] == "a" and any(e["text"] == "Berlin" for e in got[1]["entities"])
    assert got[2] == {"index": 2, "error": "empty text"}
    assert got[3] == {"id": 7, "index": 3, "error": 'no "text" field (pass text_field= to read another field)'}
    assert got[4] == {"id": "n", "index": 4, "error": 'field "text" is not a string (null)'}
    assert got[5]["index"] == 5 and "number" in got[5]["error"]
    assert got[6]["id"] == ("tuple", "id") and "entities" in got[6]


def test_pipe_reads_other_fields_and_streams_lazily(extractor):
    pulled = []

    def source():
        for i in range(5):
            pulled.append(i)
            yield {"key": i, "body": f"Item {i} was sold in London."}

    stream = extractor.pipe(source(), batch_size=2, text_field="body", id_field="key")
    first = next(stream)
    assert first["id"] == 0
    assert pulled == [0, 1]  # one batch read, not the whole iterable
    assert [r["id"] for r in stream] == [1, 2, 3, 4]


def test_pipe_yields_what_it_read_before_the_iterable_failed(extractor):
    def broken():
        yield "London is big."
        yield {"id": "b", "text": "Paris is in France."}
        raise RuntimeError("source failed")

    stream = extractor.pipe(broken(), batch_size=4)
    assert "entities" in next(stream)
    assert next(stream)["id"] == "b"
    with pytest.raises(RuntimeError, match="source failed"):
        next(stream)


def test_pipe_turns_unencodable_text_into_an_error_record(extractor):
    got = list(extractor.pipe(["caf\udce9 in Paris", "Paris is in France."], batch_size=2))
    assert got[0]["index"] == 0 and got[0]["error"].startswith("text is not valid Unicode")
    assert "entities" in got[1]


def test_extract_jsonl_reads_lines_as_the_cli_does(extractor, tmp_path):
    raw = b'\xef\xbb\xbf{"id": "bom", "text": "Paris is in France."}\n{"id": "latin1", "text": "caf\xe9"}\r\n'
    path = tmp_path / "odd.jsonl"
    path.write_bytes(raw)
    expected = run_cli(path)
    as_read = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
    got = extractor.extract_jsonl(as_read, source=str(path))
    assert got == expected
    assert got[0]["id"] == "bom" and "entities" in got[0]
    assert got[1]["id"] == "latin1" and got[1]["error"].startswith("line is not valid UTF-8")


def test_extract_jsonl_as_json_is_the_cli_output_byte_for_byte(extractor, mixed_file):
    proc = subprocess.run([cli_binary(), "extract", "--quiet", "--model", str(MODEL), str(mixed_file)],
                          capture_output=True, cwd=ROOT)
    lines = mixed_file.read_text(encoding="utf-8").splitlines()
    got = extractor.extract_jsonl(lines, source=str(mixed_file), as_json=True)
    assert "".join(line + "\n" for line in got).encode("utf-8") == proc.stdout


def test_errors_are_erx_errors_that_pickle(tmp_path):
    import pickle
    with pytest.raises(erx.ErxError) as caught:
        erx.Extractor(tmp_path)
    assert type(caught.value).__module__ == "erx"
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, erx.ErxError) and str(again) == str(caught.value)


def test_a_missing_runtime_library_can_be_retried():
    """A fresh process: a wrong runtime library fails with the fix in the message, and a
    later Extractor with the default one still loads."""
    script = (
        "import erx, sys\n"
        "try:\n"
        "    erx.Extractor(sys.argv[1], runtime_library='/nonexistent/libonnxruntime.so')\n"
        "    raise SystemExit('loaded with a missing library')\n"
        "except erx.ErxError as e:\n"
        "    assert 'setup-ort.sh' in str(e), str(e)\n"
        "x = erx.Extractor(sys.argv[1])\n"
        "assert x.runtime_library and 'nonexistent' not in x.runtime_library\n"
        "print(len(x.extract('Paris is in France.')['entities']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DYLIB_PATH"}
    proc = subprocess.run([sys.executable, "-c", script, str(MODEL)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"


def test_threads_share_one_extractor(extractor, sample_records):
    texts = [r["text"] for r in sample_records]
    expected = extractor.extract_batch(texts)
    results = {}

    def work(k):
        results[k] = [extractor.extract(t) for t in texts]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == expected for k in range(4))


def test_extraction_releases_the_gil(extractor, sample_records):
    """While one thread extracts, another thread keeps running Python: the longest pause
    it sees is far shorter than the extraction. Holding the GIL would pause it for the
    whole call."""
    texts = [r["text"] for r in sample_records] * 4
    span = {}
    done = threading.Event()

    def work():
        span["start"] = time.perf_counter()
        extractor.extract_batch(texts)
        span["end"] = time.perf_counter()
        done.set()

    ticks = []
    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if span["start"] < t < span["end"]]
    duration = span["end"] - span["start"]
    # the pauses include the ones from the call's start and to its end
    moments = [span["start"], *inside, span["end"]]
    longest_pause = max(b - a for a, b in zip(moments, moments[1:]))
    assert longest_pause < duration / 2, (longest_pause, duration)


def test_bad_arguments_raise_clear_errors(extractor, tmp_path):
    with pytest.raises(TypeError):
        extractor.extract(42)
    with pytest.raises(TypeError):
        extractor.extract_batch("a string is not a list of texts")
    with pytest.raises(ValueError, match="batch_size"):
        extractor.pipe([], batch_size=0)
    with pytest.raises(TypeError, match="str or bytes"):
        extractor.extract_jsonl([42])
    with pytest.raises(erx.ErxError, match="erx.json"):
        erx.Extractor(tmp_path)
    with pytest.raises(ValueError, match="threads"):
        erx.Extractor(MODEL, threads=0)
    with pytest.raises(ValueError, match="device"):
        erx.Extractor(MODEL, device="tpu")
    with pytest.raises(ValueError, match="sentences"):
        erx.Extractor(MODEL, sentences="paragraphs")


def test_empty_text_gives_an_empty_document(extractor):
    doc = extractor.extract("")
    assert doc["entities"] == [] and doc["relations"] == []


def test_default_model_and_runtime(extractor):
    default = erx.Extractor()
    assert Path(default.model_dir).resolve() == MODEL.resolve()
    assert default.model == extractor.model == default.card["name"]
    assert default.provider == "cpu"
    try:
        import importlib.util
        ort_spec = importlib.util.find_spec("onnxruntime")
    except ImportError:
        ort_spec = None
    if os.environ.get("ORT_DYLIB_PATH"):
        assert default.runtime_library is None
    elif ort_spec is not None:
        package = Path(ort_spec.submodule_search_locations[0])
        assert Path(default.runtime_library).parent == package / "capi"
    assert erx.__version__.count(".") == 2


def test_a_bare_name_picks_a_shipped_model(tmp_path, monkeypatch):
    # from a directory without models/: the name resolves in the repository the package was built from
    monkeypatch.chdir(tmp_path)
    fixture = erx.Extractor("fixture-v2")
    assert fixture.model == "erx-fixture-v2"
    assert Path(fixture.model_dir).resolve() == (MODEL.parent / "fixture-v2").resolve()
    with pytest.raises(erx.ErxError, match="no-such-model"):
        erx.Extractor("no-such-model")

"""scripts/spark_extract.py on Spark in local mode equals `erx extract`, record for record.

Needs PySpark and a Java 17+ runtime (scripts/test.sh installs PySpark; .ci/run installs
a headless JRE when there is none); skipped without them.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_extractor import BAD_LINES, MODEL, ROOT, SAMPLE, run_cli

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("no Java runtime: install a JRE 17+ (e.g. Debian's default-jre-headless)",
                allow_module_level=True)

SCRIPT = ROOT / "scripts" / "spark_extract.py"


def spark_job(*args):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--master", "local[2]", "--model", str(MODEL), *map(str, args)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def read_parts(folder):
    """The job's JSONL output: part files in order, as the CLI would have written it."""
    return "".join(p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("part-*")))


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    good = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = [line for pair in zip(good, BAD_LINES + [""] * len(good)) for line in pair if line]
    lines.insert(3, "")  # a blank line is no record, in the CLI as in the job
    lines[5] += "\r"  # CRLF: the record still ends at the \n
    path = tmp_path_factory.mktemp("spark-in") / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def session():
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").appName("erx-test").getOrCreate()
    yield spark
    spark.stop()


def cli_output(path):
    proc = subprocess.run([str(ROOT / "target" / "release" / "erx"), "extract", "--quiet", "--model",
                           str(MODEL), str(path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode in (0, 2), proc.stderr
    return proc.stdout


def test_jsonl_job_equals_the_cli_byte_for_byte(mixed_file, tmp_path):
    expected = cli_output(mixed_file)
    out = tmp_path / "out"
    spark_job(mixed_file, "--out", out, "--partitions", 3)
    text = read_parts(out)
    assert text == expected
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == len([line for line in mixed_file.read_text().splitlines() if line.strip()])
    assert sum("error" in r for r in records) == len(BAD_LINES)


def test_a_folder_is_read_file_by_file(mixed_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a.jsonl")
    shutil.copy(mixed_file, folder / "b.jsonl")
    out = tmp_path / "out"
    spark_job(folder, "--out", out)
    expected = cli_output(folder / "a.jsonl") + cli_output(folder / "b.jsonl")
    assert read_parts(out) == expected


def test_parquet_in_and_out(session, mixed_file, tmp_path):
    rows = []
    for line in mixed_file.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            text = record.get("text")
            rows.append((str(record.get("id")), text if isinstance(text, str) else None))
    parquet_in = tmp_path / "in.parquet"
    session.createDataFrame(rows, "id string, text string").coalesce(1).write.parquet(str(parquet_in))
    # the CLI on the same rows as JSONL lines gives the expected records
    as_jsonl = tmp_path / "rows.jsonl"
    as_jsonl.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows), encoding="utf-8")
    expected = run_cli(as_jsonl)

    out = tmp_path / "out.parquet"
    spark_job(parquet_in, "--out", out, "--output-format", "parquet")
    got = [r.asDict(recursive=True) for r in session.read.parquet(str(out)).collect()]
    assert len(got) == len(rows)

    def same(record, cli):
        # Parquet has one schema for all rows: fields a record lacks read back as null
        return all(record[k] == v or (k in ("source", "line")) for k, v in cli.items() if not isinstance(v, (list, dict))) \
            and record.get("error") == cli.get("error")

    by_id = {r["id"]: r for r in got}
    for cli in expected:
        record = by_id[cli["id"]]
        assert same(record, cli), (record, cli)
        if "entities" in cli:
            assert [e["text"] for e in record["entities"]] == [e["text"] for e in cli["entities"]]
            assert len(record["relations"]) == len(cli["relations"])

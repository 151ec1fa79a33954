"""Entity and relation extraction over a JSONL or Parquet dump, as a Spark job.

Each executor's Python worker loads the model once (``erx.spark.shared_extractor``) and
streams its partition through ``Extractor.extract_jsonl``; the output holds the records
``erx extract`` writes, one per input record, in input order (part files in order:
``cat OUT/part-*`` is the CLI's output for the same files). Bad records become error
records with the input file and line, as in the CLI. One difference: Spark decodes input
as UTF-8 with replacement characters, so a line that is not valid UTF-8 is extracted with
U+FFFD where the CLI writes an error record.

Local (PySpark from PyPI, a Java 17+ runtime):

    pip install ./bindings/python pyspark==4.0.1
    python scripts/spark_extract.py --master 'local[2]' data/sample.jsonl --out runs/spark-sample

On a cluster, the package and the model must reach every executor: install the erx wheel
(``pip wheel ./bindings/python``) and ``onnxruntime`` on the executors' Python (or ship a
packed virtualenv with ``--archives env.tar.gz#env`` and
``spark.pyspark.python=./env/bin/python``), and ship the model folder with
``--archives erx-news-v2.tar.gz#model --model model``:

    spark-submit --master yarn --archives env.tar.gz#env,erx-news-v2.tar.gz#model \\
      --conf spark.pyspark.python=./env/bin/python \\
      scripts/spark_extract.py hdfs:///dumps/articles.jsonl --model model \\
      --out hdfs:///dumps/articles.erx --threads 1

``--engine cli`` pipes each partition through the erx binary (``RDD.pipe``) instead (JSONL
input only); it needs the binary on every executor and numbers error lines within each
partition.
"""

import argparse
import json
import os
import shlex
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+",
                    help="JSONL files, folders or globs of them, or Parquet folders (any path Spark reads)")
    ap.add_argument("--out", required=True, help="output folder (must not exist)")
    ap.add_argument("--input-format", choices=["auto", "jsonl", "parquet"], default="auto",
                    help="auto: .parquet paths are Parquet, the rest JSONL")
    ap.add_argument("--output-format", choices=["jsonl", "parquet"], default="jsonl")
    ap.add_argument("--model", help="model folder as the executors see it [default: as the package finds it]")
    ap.add_argument("--threads", type=int, default=1,
                    help="ONNX Runtime threads per Python worker (one worker per task slot) [1]")
    ap.add_argument("--batch-size", type=int, default=64, help="records per extract call [64]")
    ap.add_argument("--partitions", type=int, help="minimum input partitions [Spark's default]")
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--id-field", default="id")
    ap.add_argument("--engine", choices=["python", "cli"], default="python",
                    help="python: the erx package in each worker; cli: RDD.pipe through --erx-bin")
    ap.add_argument("--erx-bin", default="target/release/erx", help="the binary for --engine cli")
    ap.add_argument("--master", help="Spark master when not run by spark-submit, e.g. local[2]")
    return ap.parse_args(argv)


def input_format(path, choice):
    if choice != "auto":
        return choice
    if path.rstrip("/").endswith(".parquet"):
        return "parquet"
    if path.endswith(".txt"):
        sys.exit(f"error: {path}: text files are not records; the job reads JSONL (one "
                 "{\"id\", \"text\"} object per line) or Parquet (--input-format)")
    return "jsonl"


def jsonl_files(spark, pattern):
    """The files a JSONL path names (a file, a folder or a glob), sorted, so that each
    gets its own line numbers, as in the CLI."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = path.getFileSystem(conf)
    statuses = fs.globStatus(path) or []
    if len(statuses) == 1 and statuses[0].isFile() and not any(c in pattern for c in "*?[{"):
        return [pattern]  # one file: named as given, as the CLI names it
    found = []
    for status in statuses:
        children = fs.listStatus(status.getPath()) if status.isDirectory() else [status]
        for child in children:
            name = child.getPath().getName()
            if child.isFile() and not name.startswith(("_", ".")):
                found.append(child.getPath().toString().removeprefix("file:"))
    if not found:
        sys.exit(f"error: no input files match {pattern}")
    return sorted(found)


def text_lines(spark, path, args):
    sc = spark.sparkContext
    return sc.textFile(path, args.partitions) if args.partitions else sc.textFile(path)


def numbered_lines(spark, path, args):
    """(JSONL line, 0-based index) pairs of one input file or Parquet folder, in order."""
    if input_format(path, args.input_format) == "parquet":
        frame = spark.read.parquet(path)
        if args.partitions:
            frame = frame.repartition(args.partitions)
        columns = [c for c in (args.id_field, args.text_field) if c in frame.columns]
        # default=str: dates, decimals and the like become strings instead of failing the task
        rows = frame.select(*columns).rdd.map(
            lambda row: json.dumps(row.asDict(), ensure_ascii=False, default=str))
        return rows.zipWithIndex()
    return text_lines(spark, path, args).zipWithIndex()


def inputs(spark, args):
    """(source, format) per input, JSONL paths expanded to their files."""
    for pattern in args.inputs:
        kind = input_format(pattern, args.input_format)
        if kind == "parquet":
            if args.engine == "cli":
                sys.exit("error: --engine cli reads JSONL only; use the default engine for Parquet")
            yield pattern
        else:
            yield from jsonl_files(spark, pattern)


def extract_rdd(spark, args):
    """The output JSONL lines of all inputs, in input order."""
    parts = []
    for path in inputs(spark, args):
        if args.engine == "cli":
            command = [os.path.abspath(args.erx_bin), "extract", "--quiet", "--threads", str(args.threads),
                       "--text-field", args.text_field, "--id-field", args.id_field]
            if args.model:
                command += ["--model", args.model]
            parts.append(text_lines(spark, path, args).pipe(shlex.join(command)))
            continue
        options = dict(model=args.model, batch_size=args.batch_size, text_field=args.text_field,
                       id_field=args.id_field, threads=args.threads, source=path)

        def run(rows, options=options):
            from erx.spark import extract_numbered_lines  # imported in the executor
            return extract_numbered_lines(rows, **options)

        parts.append(numbered_lines(spark, path, args).mapPartitions(run))
    return parts[0] if len(parts) == 1 else spark.sparkContext.union(parts)


def main(argv=None):
    args = parse_args(argv)
    from pyspark.sql import SparkSession
    from pyspark import StorageLevel

    if "://" not in args.out and os.path.exists(args.out):
        sys.exit(f"error: {args.out} exists; pick a new --out (Spark does not overwrite)")
    builder = SparkSession.builder.appName("erx-extract")
    if args.master:
        builder = builder.master(args.master)
        if args.master.startswith("local"):
            # local workers run this interpreter, the one the package is installed in
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    # lines end at \n only, as in the CLI (Hadoop also splits at a lone \r by default)
    spark.sparkContext._jsc.hadoopConfiguration().set("textinputformat.record.delimiter", "\n")
    started = time.perf_counter()
    try:
        out = extract_rdd(spark, args)
        if args.output_format == "jsonl":
            out.saveAsTextFile(args.out)
        else:
            # schema inference reads the records once more: keep them instead of re-extracting
            out.persist(StorageLevel.MEMORY_AND_DISK)
            spark.read.json(out).write.parquet(args.out)
        seconds = time.perf_counter() - started
        written = spark.read.text(args.out) if args.output_format == "jsonl" else spark.read.parquet(args.out)
        records = written.count()
    finally:
        spark.stop()
    print(f"{records} records written to {args.out} in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

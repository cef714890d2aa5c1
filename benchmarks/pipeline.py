"""Benchmark `crossdiff run` with the default config: cold (from nothing) and fully cached.

Runs the real command twice in fresh processes on an empty run directory and prints ONE JSON
object: wall-clock seconds of each run, whether they meet the targets (cold ≤ 720 s including the
organism build, cached ≤ 60 s), each stage's own time from its manifest, and whether every report
section was filled from the run. Run it under the shared lock:

    flock /tmp/crossdiff-heavy.lock python benchmarks/pipeline.py [--config FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLD_TARGET_SECONDS = 720.0
CACHED_TARGET_SECONDS = 60.0


def timed_run(config: str | None, out: Path) -> float:
    """Seconds of one `crossdiff run` in a fresh process (raises if it fails)."""
    command = [sys.executable, "-m", "crossdiff.cli", "run", "--out", str(out), "--no-progress"]
    if config:
        command += ["--config", config]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
        raise SystemExit(f"crossdiff run failed with exit code {done.returncode}")
    return elapsed


def stage_seconds(run_dir: Path) -> dict[str, float]:
    """Each finished stage's own elapsed time, from its manifest."""
    seconds = {}
    for manifest in sorted(run_dir.glob("*/stage.json")):
        data = json.loads(manifest.read_text())
        seconds[data["stage"]] = round(float(data["elapsed_seconds"]), 2)
    return seconds


def main() -> None:
    """Run the benchmark and print its JSON object."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None, help="run config (default: the organism)")
    parser.add_argument("--out", default=None, help="run directory (default: a fresh temp dir)")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="crossdiff-bench-")) / "run"
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: the cold run must start from nothing")
    cold = timed_run(args.config, out)
    stages = stage_seconds(out)
    cached = timed_run(args.config, out)
    report = json.loads((out / "report" / "stage.json").read_text())
    filled = report["summary"]["filled"]
    missing = sorted(name for name, ok in filled.items() if not ok)
    print(
        json.dumps(
            {
                "run_seconds_cold": round(cold, 1),
                "run_seconds_cached": round(cached, 1),
                "cold_within_720s": cold <= COLD_TARGET_SECONDS,
                "cached_within_60s": cached <= CACHED_TARGET_SECONDS,
                "report_sections_filled_fraction": (len(filled) - len(missing)) / len(filled),
                "report_sections_missing": missing,
                "report_html_bytes": (out / "report" / "report.html").stat().st_size,
                "stage_seconds": stages,
                "run_dir": str(out),
                "config": args.config or "configs/organism.toml",
            }
        )
    )


if __name__ == "__main__":
    main()

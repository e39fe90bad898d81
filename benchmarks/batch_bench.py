"""`composer batch`: wall time of N band-render jobs with --workers 1, --workers 2 and --ray, against the sum of
the same jobs run one by one (each a plain `render_band` in its own process) in the same run.

    python benchmarks/batch_bench.py [--jobs 8] [--length 20s] [--no-ray] [--cores N] [--keep DIR]

The band is the shipped demo band when its models are trained (models/demo/audio), else a debug band trained
here in about a minute (as the test suite builds one). Every measurement renders into a fresh folder, so no job
is skipped. Ray's per-job overhead = (Ray wall - workers-2 wall) / jobs, both using two jobs at a time.

``--cores N`` pins this process and everything it starts to N cores: on a machine whose cores are busy with
other work, the audio generator's torch threads can otherwise wait on each other for whole scheduler slices.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def debug_band(root: Path) -> tuple[str, Path]:
    """A band with debug-size models trained briefly (the test suite's recipe); (name, bands dir)."""
    from composer.testing import make_debug_band

    make_debug_band(root, "benchband")
    return "benchband", root


def job_file(folder: Path, band: str, bands_dir: Path | None, jobs: int, length: str) -> Path:
    folder.mkdir(parents=True)
    lines = ["[defaults]", f'band = "{band}"', f'length = "{length}"']
    if bands_dir is not None:
        lines.append(f'bands_dir = "{bands_dir}"')
    for i in range(jobs):
        lines += ["[[job]]", f'name = "j{i}"', f"seed = {i}", f'output = "out/j{i}.mp4"']
    path = folder / "jobs.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_by_one(band: str, bands_dir: Path | None, jobs: int, length: str, folder: Path) -> float:
    """Sum of the jobs' wall times, each a plain render in a fresh process (what a shell loop would do)."""
    folder.mkdir(parents=True)
    total = 0.0
    for i in range(jobs):
        cmd = [
            sys.executable,
            "-m",
            "composer",
            "render",
            "--band",
            band,
            "--length",
            length,
            "--seed",
            str(i),
            "-o",
            str(folder / f"j{i}.mp4"),
            "-q",
        ]
        if bands_dir is not None:
            cmd += ["--bands-dir", str(bands_dir)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO)
        total += time.perf_counter() - t0
    return total


def batch(path: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "composer", "batch", str(path), "-q", *extra], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"composer batch {' '.join(extra)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--length", default="20s")
    ap.add_argument("--no-ray", action="store_true", help="Skip the Ray measurement.")
    ap.add_argument("--cores", type=int, default=None, help="Pin the benchmark to this many cores.")
    ap.add_argument("--keep", type=Path, default=None, help="Work in this folder and keep it.")
    args = ap.parse_args()
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    root = args.keep or Path(tempfile.mkdtemp(prefix="batch-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    if (REPO / "models" / "demo" / "audio").is_dir():
        band, bands_dir = "demo", None
    else:
        print("models/demo/audio is not there: training a debug band for the benchmark ...", flush=True)
        band, bands_dir = debug_band(root / "bands")
    cores = len(os.sched_getaffinity(0))
    print(f"{args.jobs} jobs of {args.length} by band {band!r} on {cores} core(s)", flush=True)

    rows = [("one by one (sum of the jobs)", one_by_one(band, bands_dir, args.jobs, args.length, root / "seq"))]
    print(f"  {rows[-1][0]}: {rows[-1][1]:.1f} s", flush=True)
    runs = [("batch --workers 1", ("--workers", "1")), ("batch --workers 2", ("--workers", "2"))]
    if not args.no_ray:
        runs.append(("batch --ray (local Ray)", ("--ray",)))
    for k, (name, extra) in enumerate(runs):
        rows.append((name, batch(job_file(root / f"batch{k}", band, bands_dir, args.jobs, args.length), *extra)))
        print(f"  {rows[-1][0]}: {rows[-1][1]:.1f} s", flush=True)

    base = rows[0][1]
    print("\n| what | wall s | speed-up vs one by one |\n|---|---|---|")
    for name, wall in rows:
        print(f"| {name} | {wall:.1f} | {base / wall:.2f}x |")
    walls = dict(rows)
    w1 = walls["batch --workers 1"]
    print(f"\nbatch overhead per job, --workers 1 vs one by one: {(w1 - base) / args.jobs:+.2f} s")
    if "batch --ray (local Ray)" in walls:
        ray_overhead = (walls["batch --ray (local Ray)"] - walls["batch --workers 2"]) / args.jobs
        print(f"Ray overhead per job (Ray start included), vs --workers 2: {ray_overhead:+.2f} s")
    if args.keep is None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`composer render --band demo` end to end: wall time, peak memory, time per stage and the overlap achieved,
for the tandem pipeline and, in the same run, the same render with its stages forced one after another.

    python benchmarks/e2e_bench.py [--length 10m] [--size 720p] [--also-1080p] [--skip-sequential]

Each render runs in a child process so its peak memory (RSS of the whole tree: this process, the audio
generator process and ffmpeg) is sampled on its own. Overlap = sum of stage times / wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_measured  # noqa: E402


def child(args) -> None:
    from dataclasses import asdict

    from composer.band.profile import find_band
    from composer.band.render import render_band
    from composer.util.sizes import parse_size

    result = render_band(
        find_band("demo"),
        args.seconds,
        Path(args.out),
        size=parse_size(args.size),
        seed=args.seed,
        tandem=args.tandem == 1,
    )
    stats = {
        "wall": result.wall_s,
        "stages": asdict(result.stages),
        "overlap": result.overlap,
        "songs": len(result.songs),
        "lines": len(result.timeline.lines),
        "frames": result.frames,
    }
    Path(args.stats).write_text(json.dumps(stats), encoding="utf-8")


def measure(seconds: float, size: str, tandem: bool, root: Path, seed: int) -> dict:
    stats = root / f"stats-{size}-{int(tandem)}.json"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--seconds",
        str(seconds),
        "--size",
        size,
        "--tandem",
        str(int(tandem)),
        "--out",
        str(root / f"v-{size}-{int(tandem)}.mp4"),
        "--stats",
        str(stats),
        "--seed",
        str(seed),
    ]
    wall, peak_mb = run_measured(cmd)
    out = json.loads(stats.read_text(encoding="utf-8"))
    out.update(process_wall=wall, peak_mb=peak_mb)
    return out


def show(name: str, r: dict, seconds: float) -> None:
    s = r["stages"]
    print(
        f"{name}: wall {r['process_wall']:.1f} s for {seconds:.0f} s of video "
        f"({seconds / r['process_wall']:.2f}x real time), peak RSS {r['peak_mb']:.0f} MB, "
        f"{r['songs']} songs, {r['lines']} lines"
    )
    print("    stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in s.items()) + f"; overlap {r['overlap']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", default="10m")
    ap.add_argument("--size", default="720p")
    ap.add_argument("--also-1080p", action="store_true")
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--tandem", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from composer.util.durations import parse_duration

    seconds = parse_duration(args.length)
    print(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(), "CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tandem = measure(seconds, args.size, True, root, args.seed)
        show(f"tandem {args.size}", tandem, seconds)
        if not args.skip_sequential:
            seq = measure(seconds, args.size, False, root, args.seed)
            show(f"sequential {args.size}", seq, seconds)
            print(f"tandem speed-up over sequential: {seq['process_wall'] / tandem['process_wall']:.2f}x")
        if args.also_1080p:
            show("tandem 1080p", measure(seconds, "1080p", True, root, args.seed), seconds)


if __name__ == "__main__":
    main()

"""`composer stream --band demo --hls DIR --size 720p --duration 10m`, as a user starts it, watched while it runs.

Samples, against minutes of stream: the buffer ahead of the playhead and the generation speed (from
``--status-json``), the resident memory of composer's whole process tree (Python, the audio process, ffmpeg);
counts holding-card episodes (``--now-playing``) and how far the output ever fell behind its real-time schedule.
A reader follows the live playlist the whole run as a player would, one ffmpeg that decodes every frame and also
copies the stream to a file; afterwards the copy's packets are checked for gaps and its media duration measured.
Prints the figures as JSON with the ratios the issue asks for (generation speed / real time, RSS at 5 and
10 minutes / RSS at 2) and draws buffer ahead and RSS against time into ``--png``.

    python benchmarks/stream_bench.py [--minutes 10] [--size 720p] [--out DIR] [--png docs/stream_bench.png]

``--out`` keeps the run's files (HLS folder, status and now-playing logs, composer's stderr, the reader's copy
and log, summary.json); by default they go to a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from composer.media.ffmpeg import ffmpeg_exe
from composer.media.plot import write_curve

ROOT = Path(__file__).resolve().parents[1]
RSS_AT_MIN = (2, 5, 10)  # the checkpoints (minutes of stream), scaled down for shorter runs
FLAT = 0.10  # RSS "flat": within 10% of the 2-minute figure
BUFFER_S = 180.0  # composer stream's default --buffer (3m): what the producer keeps ahead, the baseline for "ahead"


def tree(root: int) -> set[int]:
    """``root`` and every process below it, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(entry))
    found, stack = {root}, [root]
    while stack:
        for child in kids.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, StopIteration, ValueError):
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1])
    return 0


class Watch:
    """composer stream in a subprocess, its status lines and its process tree's memory, sampled as it runs."""

    def __init__(self, cmd: list[str], out: Path):
        self.status: list[tuple[float, dict]] = []  # (wall time, status line)
        self.rss: list[tuple[float, float]] = []  # (wall time, MB of the whole tree)
        self.parts: list[tuple[float, dict[str, float]]] = []  # (wall time, MB by process)
        self.stderr = (out / "composer.stderr.txt").open("w")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True, start_new_session=True, cwd=ROOT
        )
        self.t0 = time.monotonic()
        self.pids: set[int] = set()  # every process of the tree seen, for the clean-up
        self._done = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._read, self._sample)]
        for t in self._threads:
            t.start()

    def _read(self) -> None:
        # line-buffered: `tail -f status.jsonl` follows the run as it goes
        with (Path(self.stderr.name).parent / "status.jsonl").open("w", buffering=1) as log:
            for line in self.proc.stdout:
                log.write(line)
                with contextlib.suppress(ValueError):
                    self.status.append((time.monotonic(), json.loads(line)))

    def _sample(self) -> None:
        while not self._done.is_set():
            pids = tree(self.proc.pid)
            self.pids |= pids
            parts: dict[str, float] = {}
            for pid in pids:
                role = self._role(pid)
                parts[role] = parts.get(role, 0.0) + rss_kb(pid) / 1024
            if sum(parts.values()):
                now = time.monotonic()
                self.rss.append((now, sum(parts.values())))
                self.parts.append((now, parts))
            self._done.wait(1.0)

    def _role(self, pid: int) -> str:
        """Which part of composer a process is: the main process, its encoder, or the audio process (and the
        small multiprocessing helper beside it)."""
        if pid == self.proc.pid:
            return "composer"
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return "other"
        return "ffmpeg" if b"ffmpeg" in cmdline else "audio process"

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._done.set()
            for t in self._threads:
                t.join(timeout=10)
            self.stderr.close()

    def kill(self) -> None:
        """SIGTERM (composer stops its ffmpeg and ends the playlist), then SIGKILL whatever of the tree is left
        (the encoder runs in a session of its own, so it is killed by pid, not by process group)."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        for pid in self.pids | {self.proc.pid}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()


def start_reader(hls: Path, out: Path, streaming: subprocess.Popen) -> subprocess.Popen | None:
    """Once the playlist appears: ffmpeg following it from its first segment to ENDLIST, decoding every frame
    (``-f null``, as a player would) and copying the packets to reader.ts for the gap check."""
    playlist = hls / "stream.m3u8"
    while not playlist.exists():
        if streaming.poll() is not None:  # composer ended before the first segment: nothing to read
            return None
        time.sleep(0.5)
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "warning", "-threads", "1", "-live_start_index", "0", "-i", str(playlist)]
    cmd += ["-map", "0:v", "-map", "0:a", "-c", "copy", "-f", "mpegts", "-y", str(out / "reader.ts")]
    cmd += ["-map", "0:v", "-map", "0:a", "-f", "null", "-"]
    log = (out / "reader.log").open("w")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)


def read_back(path: Path) -> dict:
    """The reader's copy: media seconds per stream and the largest hole (or overlap) in each one's timestamps."""
    import av

    if not path.exists() or path.stat().st_size == 0:
        return {"media_s": 0.0}
    packets: dict[str, list[tuple[float, float]]] = {}
    with av.open(str(path)) as f:
        for packet in f.demux():
            if packet.pts is not None and packet.duration:
                tb = packet.time_base
                packets.setdefault(packet.stream.type, []).append((float(packet.pts * tb), float(packet.duration * tb)))
    out = {}
    for kind, pts in sorted(packets.items()):
        p = np.array(sorted(pts))
        gaps = p[1:, 0] - (p[:-1, 0] + p[:-1, 1])  # > 0: nothing plays there; < 0: two packets at once
        out[f"{kind}_s"] = round(float(p[-1, 0] + p[-1, 1] - p[0, 0]), 2)
        out[f"{kind}_largest_hole_s"] = round(float(max(gaps.max(initial=0.0), 0.0)), 3)
        out[f"{kind}_largest_overlap_s"] = round(float(max(-gaps.min(initial=0.0), 0.0)), 3)
    out["media_s"] = min(out.get("video_s", 0.0), out.get("audio_s", 0.0))
    return out


def at_minutes(points: list[tuple[float, float]], minute: float) -> float | None:
    """The value sampled nearest ``minute`` (within half a minute), else None."""
    if not points:
        return None
    t, v = min(points, key=lambda p: abs(p[0] - minute))
    return round(v, 1) if abs(t - minute) <= 0.5 else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes of stream")
    ap.add_argument("--size", default="720p")
    ap.add_argument("--out", type=Path, default=None, help="keep the run's files here (a new or empty folder)")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "stream_bench.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        out = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            sys.exit(f"{out}: not empty; give a new or empty folder")
        print(json.dumps(run(args, out), indent=1), flush=True)


def run(args, out: Path) -> dict:
    hls, minutes = out / "hls", args.minutes
    cmd = [sys.executable, "-m", "composer", "stream", "--band", "demo", "--hls", str(hls), "--size", args.size]
    cmd += ["--duration", f"{minutes:g}m", "--seed", str(args.seed), "--now-playing", str(out / "now.jsonl")]
    cmd += ["--status-json", "-q"]
    watch = Watch(cmd, out)
    reader = None
    try:
        # the first song is generated before the playlist exists; then the reader follows the stream
        reader = start_reader(hls, out, watch.proc)
        rc = watch.wait(timeout=1800 + minutes * 60 * 2)  # a guard against a hang, not a measurement
        reader_rc = reader.wait(timeout=120) if reader is not None else None
    finally:
        if watch.proc.poll() is None:
            watch.kill()
        if reader is not None and reader.poll() is None:
            reader.kill()
            reader.wait()
    return summarise(args, out, watch, rc, reader_rc)


def summarise(args, out: Path, watch: Watch, rc: int, reader_rc: int | None) -> dict:
    streaming = [(t, s) for t, s in watch.status if s["uptime_s"] >= 1]
    if rc != 0 or not streaming:
        tail = (out / "composer.stderr.txt").read_text()[-800:]
        sys.exit(f"composer stream failed (exit {rc}): {tail}")
    # stream time 0 is one second before the first chunk was handed over (chunks are paced at real time)
    t_on = streaming[0][0] - streaming[0][1]["uptime_s"]
    warm_up_s = t_on - watch.t0
    minute = [((t - t_on) / 60, s) for t, s in streaming]
    ahead = [(m, s["ahead_s"]) for m, s in minute]
    t_off = streaming[-1][0]  # the last second handed over: after it composer is shutting down, not streaming
    rss = [((t - t_on) / 60, mb) for t, mb in watch.rss if t_on <= t <= t_off]
    speeds = [s["generation_speed"] for _, s in minute if s["generation_speed"] > 0]
    now = [json.loads(line) for line in (out / "now.jsonl").read_text().splitlines()]
    holds = [e for e in now if e.get("holding")]
    songs = [e for e in now if not e.get("holding")]
    hold_s = [
        round(next((e["start"] for e in now if e["start"] > h["start"]), minute[-1][1]["uptime_s"]) - h["start"], 1)
        for h in holds
    ]
    # where rss is sampled: the 2, 5 and 10 minutes, or the same fractions of a shorter run
    scale = min(1.0, args.minutes / 10)
    checkpoints = {f"{m * scale:g}": at_minutes(rss, m * scale) for m in RSS_AT_MIN}
    base = checkpoints[f"{RSS_AT_MIN[0] * scale:g}"]
    parts = [((t - t_on) / 60, p) for t, p in watch.parts if t_on <= t <= t_off]
    by_process = {}  # which process the memory is in, at the same checkpoints
    for m in RSS_AT_MIN:
        near = min(parts, key=lambda x: abs(x[0] - m * scale), default=None)
        if near is not None and abs(near[0] - m * scale) <= 0.5:
            by_process[f"{m * scale:g}"] = {k: round(v, 1) for k, v in sorted(near[1].items())}
    ratios = {k: round(v / base, 3) for k, v in checkpoints.items() if v and base}
    thirds = np.array_split(np.array([a for _, a in ahead]), 3)
    xs, ys = np.array([m for m, _ in ahead]), np.array([a for _, a in ahead])
    slope = float(np.polyfit(xs, ys, 1)[0]) if len(xs) > 2 else float("nan")
    # a song put into the buffer shows as a jump up; the level just before it is the buffer's low point
    refills = [
        (round(m, 2), round(ys[i - 1], 1), round(a, 1)) for i, (m, a) in enumerate(ahead) if i and a > ys[i - 1] + 5
    ]
    stderr = (out / "composer.stderr.txt").read_text().splitlines()
    reader_log = (out / "reader.log").read_text().splitlines() if (out / "reader.log").exists() else []
    back = read_back(out / "reader.ts")
    summary = {
        "command": "composer stream " + " ".join(watch.proc.args[4:]),
        "stream_minutes": args.minutes,
        "warm_up_s": round(warm_up_s, 1),
        "generation_x_real_time": {
            "median": round(float(np.median(speeds)), 3) if speeds else None,
            "min": round(min(speeds), 3) if speeds else None,
            "baseline_real_time": 1.0,
        },
        "buffer_ahead_s": {
            "at_minutes": {f"{m * scale:g}": at_minutes(ahead, m * scale) for m in RSS_AT_MIN},
            "mean_by_third": [round(float(t.mean()), 1) for t in thirds if len(t)],
            "min": round(float(ys.min()), 1),
            "slope_s_per_min": round(slope, 2),
            "last_third_over_first": round(float(thirds[2].mean() / thirds[0].mean()), 3) if thirds[0].mean() else None,
            "refills_minute_before_after": refills,
            "target": BUFFER_S,
            "min_over_target": round(float(ys.min()) / BUFFER_S, 3),
        },
        "rss_mb": {
            "at_minutes": checkpoints,
            "over_first": ratios,
            "peak": round(max(v for _, v in rss), 1),
            "by_process_at_minutes": by_process,
        },
        "rss_flat_within_10pct": bool(ratios) and max(ratios.values()) <= 1 + FLAT and min(ratios.values()) >= 1 - FLAT,
        "songs_on_air": len(songs),
        "holding_card": {"episodes": len(holds), "seconds": hold_s},
        "max_late_s": round(max(s["late_s"] for _, s in minute), 2),
        "warnings": [line for line in stderr if "warning" in line.lower()],
        "exit": rc,
        "reader": {
            "exit": reader_rc,
            "log_lines": len(reader_log),
            "log_head": reader_log[:5],
            **back,
            "media_over_stream": round(back["media_s"] / (args.minutes * 60), 4),
        },
    }
    summary["reader"]["played_through"] = (
        reader_rc == 0 and not reader_log and abs(back["media_s"] - args.minutes * 60) <= 4.5
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    plot(args.png, ahead, rss, args)
    return summary


def plot(png: Path, ahead: list, rss: list, args) -> None:
    """Two charts, one above the other, on the same minutes: buffer ahead (s) and RSS of the process tree (MB),
    each on an axis from 0, so a shrinking buffer or a growing footprint shows at its true size."""
    with tempfile.TemporaryDirectory() as d:
        top, bottom = Path(d) / "ahead.png", Path(d) / "rss.png"
        title = f"composer stream --band demo --size {args.size}: {args.minutes:g} min of stream"
        write_curve(
            top,
            {
                "buffer ahead of the playhead": ahead,
                "--buffer (3m)": [(ahead[0][0], BUFFER_S), (ahead[-1][0], BUFFER_S)],
            },
            title=title,
            ylabel="seconds",
            xlabel="minutes of stream",
            ylim=(0.0, 1.25 * max(a for _, a in ahead)),
        )
        write_curve(
            bottom,
            {"RSS: composer + audio process + ffmpeg": rss},
            title="memory of the whole process tree",
            ylabel="MB",
            xlabel="minutes of stream",
            ylim=(0.0, 1.25 * max(v for _, v in rss)),
        )
        a, b = Image.open(top), Image.open(bottom)
        both = Image.new("RGB", (a.width, a.height + b.height), "white")
        both.paste(a, (0, 0))
        both.paste(b, (0, a.height))
        png.parent.mkdir(parents=True, exist_ok=True)
        both.save(png, format="PNG")


if __name__ == "__main__":
    main()

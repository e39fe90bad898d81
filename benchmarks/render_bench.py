"""Render speed against ffmpeg baselines, interleaved in one run (machines here are shared and noisy).

Same content for every contestant: 60 s of 1280x720 at 30 fps, three images, sixteen lyric lines with a word
sweep, the same audio, the same x264 settings (veryfast, crf 20) and AAC settings.
  (a) ffmpeg alone encoding the slideshow with no text: the encode limit
  (b) ffmpeg burning composer's own .ass sidecar in with its `ass` filter: what karaoke tools do today
  (c) composer: FrameRenderer frames piped into the writer
Prints frames per second, medians over rounds, and the ratios c/a and c/b (targets >= 0.85 and >= 1.15).
Then: composer with Ken Burns and crossfades on, composer over a looping video background, 1920x1080 against
(a) at 1080p, and the peak memory (RSS of the whole process tree, ffmpeg included) of a 10-minute render.
``--countin``: instead, the time to compose a 1280x720 yuv420p frame while a count-in runs (dots, bar) against
the same frames with none (no encoding: the count-in's own cost).

    python benchmarks/render_bench.py [--rounds 3] [--seconds 60] [--long-seconds 600] [--skip-long] [--countin]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_measured  # noqa: E402

from composer.media.ffmpeg import EncodeSettings, audio_args, ffmpeg_exe, video_args  # noqa: E402

LINES = 16


def make_inputs(root: Path, seconds: float) -> dict:
    """Images, prepared audio and a 16-line timeline (with its .ass) shared by every contestant."""
    from composer.karaoke.render.imagegen import make_images
    from composer.media.audio import prepare_output_audio
    from composer.media.sidecars import write_json
    from composer.media.timing import make_line
    from composer.synthetic.song import example_lyrics, make_song
    from composer.types import Timeline

    (root / "images").mkdir()
    images = make_images(root / "images", n=3, seed=1)
    song = make_song(seed=5, kind="dense", duration=seconds)
    wav = root / "audio.wav"
    prepare_output_audio(song.audio, wav)
    texts = [line for line, _ in example_lyrics(7, LINES).lines][:LINES]
    slot = seconds / LINES
    lines = [make_line(text, i * slot + 0.4, (i + 1) * slot - 0.3, i // 4) for i, text in enumerate(texts)]
    timeline = Timeline(tuple(lines), duration=seconds, title="")
    write_json(timeline, root / "timeline.json")
    return {"images": [str(p) for p in images], "wav": str(wav), "timeline": str(root / "timeline.json")}


def bench_template(width: int, height: int, *, moving: bool):
    from composer.karaoke.template import load_template

    return load_template("classic").replace(
        video={"width": width, "height": height, "fps": 30},
        text={"highlight": "word"},
        background={
            "ken_burns": 0.06 if moving else 0.0,
            "crossfade": 1.0 if moving else 0.0,
            "seconds_per_image": 20.0,
            "shuffle": False,
            "grain": 0.0,
            "tint_strength": 0.0,
            "brightness": 1.0,
            "saturation": 1.0,
        },
        title={"enabled": False},
    )


def composer_job(spec: dict) -> None:
    """Runs in a child process, so every round starts cold, as a user's render does."""
    from composer.karaoke.engine import render_video
    from composer.karaoke.render.frames import FrameRenderer
    from composer.karaoke.render.videobg import VideoBackground
    from composer.types import Timeline

    tmpl = bench_template(spec["width"], spec["height"], moving=spec["moving"])
    timeline = Timeline.from_dict(json.loads(Path(spec["timeline"]).read_text()))
    wav = Path(spec["wav"]) if spec["wav"] else None
    if spec.get("video"):
        with VideoBackground(Path(spec["video"]), tmpl.size, tmpl.fps) as video:
            renderer = FrameRenderer(tmpl, timeline, [], background=video)
            render_video(renderer, spec["seconds"], wav, Path(spec["out"]))
        return
    renderer = FrameRenderer(tmpl, timeline, [Path(p) for p in spec["images"]], seed=0)
    render_video(renderer, spec["seconds"], wav, Path(spec["out"]))


def ffmpeg_slideshow(
    inputs: dict, out: Path, width: int, height: int, seconds: float, ass: Path | None, fontsdir: Path | None
) -> list[str]:
    per = seconds / len(inputs["images"])
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for img in inputs["images"]:
        cmd += ["-loop", "1", "-framerate", "30", "-t", f"{per}", "-i", img]
    cmd += ["-i", inputs["wav"]]
    fit = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1"
    chains = [f"[{i}:v]{fit}[v{i}]" for i in range(len(inputs["images"]))]
    concat = "".join(f"[v{i}]" for i in range(len(inputs["images"]))) + f"concat=n={len(inputs['images'])}:v=1:a=0"
    if ass is not None:
        concat += f",ass={ass}:fontsdir={fontsdir}"
    graph = ";".join(chains) + ";" + concat + ",format=yuv420p[out]"
    settings = EncodeSettings()
    cmd += ["-filter_complex", graph, "-map", "[out]", "-map", f"{len(inputs['images'])}:a"]
    cmd += video_args(30, settings) + audio_args(settings) + ["-movflags", "+faststart", str(out)]
    return cmd


def composer_cmd(
    root: Path,
    inputs: dict,
    out: Path,
    width: int,
    height: int,
    seconds: float,
    *,
    moving: bool = False,
    name: str = "job",
    video: Path | None = None,
) -> list[str]:
    spec = {**inputs, "out": str(out), "width": width, "height": height, "seconds": seconds, "moving": moving}
    spec["video"] = str(video) if video else None
    path = root / f"{name}.json"
    path.write_text(json.dumps(spec))
    return [sys.executable, __file__, "--job", str(path)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--long-seconds", type=float, default=600.0)
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--countin", action="store_true", help="only the count-in's cost per frame")
    ap.add_argument("--job", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        composer_job(json.loads(Path(args.job).read_text()))
        return
    if args.countin:
        countin_cost(args.rounds)
        return

    from composer.media.fonts import family_name, font_path
    from composer.media.sidecars import write_ass
    from composer.types import Timeline

    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        root = Path(tmp)
        inputs = make_inputs(root, args.seconds)
        tmpl = bench_template(1280, 720, moving=False)
        timeline = Timeline.from_dict(json.loads(Path(inputs["timeline"]).read_text()))
        ass = root / "lyrics.ass"
        write_ass(timeline, ass, **tmpl.ass_style())
        fontsdir = font_path(tmpl.text.font).parent
        frames = round(args.seconds * 30)
        contestants = {
            "a ffmpeg slideshow": ffmpeg_slideshow(inputs, root / "a.mp4", 1280, 720, args.seconds, None, None),
            "b ffmpeg + ass burn-in": ffmpeg_slideshow(inputs, root / "b.mp4", 1280, 720, args.seconds, ass, fontsdir),
            "c composer": composer_cmd(root, inputs, root / "c.mp4", 1280, 720, args.seconds),
        }
        fps: dict[str, list[float]] = {k: [] for k in contestants}
        names = list(contestants)
        for r in range(args.rounds):
            for name in names[r % 3 :] + names[: r % 3]:  # rotate the order so no one always runs first
                wall, _ = run_measured(contestants[name])
                fps[name].append(frames / wall)
        print(
            f"1280x720, {args.seconds:.0f} s, {frames} frames, {LINES} lines, word sweep, font "
            f"{family_name(tmpl.text.font)}; median of {args.rounds} interleaved rounds"
        )
        med = {k: statistics.median(v) for k, v in fps.items()}
        for k, v in fps.items():
            print(f"  {k:<24} {med[k]:7.1f} fps   runs: {', '.join(f'{x:.1f}' for x in v)}")
        print(f"  composer / (a) encode limit : {med['c composer'] / med['a ffmpeg slideshow']:.2f}x  (target >= 0.85)")
        print(
            f"  composer / (b) ass burn-in  : {med['c composer'] / med['b ffmpeg + ass burn-in']:.2f}x  "
            "(target >= 1.15)"
        )

        wall, _ = run_measured(
            composer_cmd(root, inputs, root / "m.mp4", 1280, 720, args.seconds, moving=True, name="moving")
        )
        print(
            f"  composer, Ken Burns + 1 s crossfades: {frames / wall:.1f} fps "
            f"({frames / wall / med['a ffmpeg slideshow']:.2f}x of (a))"
        )

        loop = root / "loop.mp4"  # a 10 s 1080p clip at 25 fps: scaled, resampled to 30 fps and looped
        fit = ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-t", "10", "-pix_fmt", "yuv420p"]
        run_measured([ffmpeg_exe(), "-loglevel", "error", "-y", *fit, str(loop)])
        wall, _ = run_measured(
            composer_cmd(root, inputs, root / "v.mp4", 1280, 720, args.seconds, name="video", video=loop)
        )
        print(
            f"  composer over a looping 1080p video (--background): {frames / wall:.1f} fps "
            f"({frames / wall / med['c composer']:.2f}x of composer over stills)"
        )

        wa, _ = run_measured(ffmpeg_slideshow(inputs, root / "a1080.mp4", 1920, 1080, args.seconds, None, None))
        wc, _ = run_measured(composer_cmd(root, inputs, root / "c1080.mp4", 1920, 1080, args.seconds, name="hd"))
        print(f"1920x1080: (a) {frames / wa:.1f} fps, composer {frames / wc:.1f} fps, ratio {wa / wc:.2f}x")

        if not args.skip_long:
            long_cmd = long_karaoke_cmd(root, args.long_seconds)
            wall, peak = run_measured(long_cmd)
            print(
                f"{args.long_seconds / 60:.0f}-minute `composer karaoke` at 1280x720 (read, align, normalise, "
                f"render, encode): {wall:.0f} s wall, peak RSS {peak:.0f} MB, python + ffmpeg (target < 1024 MB)"
            )


def countin_cost(rounds: int) -> None:
    """Milliseconds to compose a yuv420p frame inside count-ins, with dots, with a bar and with none."""
    import time

    from composer.karaoke.render.frames import FrameRenderer
    from composer.karaoke.render.imagegen import make_images
    from composer.media.timing import make_line
    from composer.synthetic.song import example_lyrics
    from composer.types import Timeline

    texts = [line for line, _ in example_lyrics(7, LINES).lines][:LINES]
    # a line every 8 s after a 6 s pause: each gets a 2 s count-in
    lines = tuple(make_line(text, 6.0 + 8.0 * i, 8.0 + 8.0 * i, i) for i, text in enumerate(texts))
    timeline = Timeline(lines, 8.0 * LINES + 2.0, "")
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        images = make_images(Path(tmp), n=3, seed=1)
        renderers = {
            style: FrameRenderer(
                bench_template(1280, 720, moving=False).replace(countin={"style": style}), timeline, images, seed=0
            )
            for style in ("none", "dots", "bar")
        }
        times = [4.0 + 8.0 * i + k / 30 for i in range(LINES) for k in range(60)]  # every count-in frame
        ms: dict[str, list[float]] = {k: [] for k in renderers}
        styles = list(renderers)
        for k in range(rounds):
            for style in styles[k % 3 :] + styles[: k % 3]:  # rotate the order so no one always runs first
                r = renderers[style]
                t0 = time.perf_counter()
                for t in times:
                    r.yuv420p(t)
                ms[style].append(1000 * (time.perf_counter() - t0) / len(times))
    med = {k: statistics.median(v) for k, v in ms.items()}
    print(f"1280x720 yuv420p, {len(times)} frames inside count-ins, median of {rounds} rounds")
    for k in ("dots", "bar"):
        print(f"  {k:<5} {med[k]:.3f} ms/frame vs none {med['none']:.3f} ms/frame: {med[k] / med['none']:.2f}x")


LONG_TEMPLATE = """
name = "bench-720p"
[video]
width = 1280
height = 720
"""


def long_karaoke_cmd(root: Path, seconds: float) -> list[str]:
    """A whole `composer karaoke` run on a long synthesised song, as a user would start it."""
    from composer.media.audio import write_wav
    from composer.synthetic.song import make_song

    song = make_song(seed=11, kind="dense", duration=seconds)
    write_wav(root / "long.wav", song.audio)
    (root / "long.txt").write_text(song.lyrics.to_text(), encoding="utf-8")
    (root / "long.toml").write_text(LONG_TEMPLATE, encoding="utf-8")
    exe = Path(sys.executable).with_name("composer")
    return [
        str(exe),
        "karaoke",
        str(root / "long.wav"),
        str(root / "long.txt"),
        "--images",
        str(root / "images"),
        "-o",
        str(root / "long.mp4"),
        "--template",
        str(root / "long.toml"),
        "--quiet",
    ]


if __name__ == "__main__":
    main()

"""`composer batch`: many videos from one job file, resumable, on a local process pool or a Ray cluster.

    plan:    every job's inputs hash against the manifest -> skip (done, same hash, outputs there) or run
    run:     jobs go to worker processes (or Ray tasks); each writes its outputs atomically
    record:  the parent alone writes the manifest, atomically, after each job finishes

So a batch killed at any point (SIGTERM, SIGKILL, a power cut) leaves finished outputs and a manifest that
names only them; the rerun removes the stale temporary files of the jobs that were cut short and runs those.

Ray (``pip install 'composer[cluster]'``) is imported only when asked for. Its workers write outputs straight
to each job's output path, so on a multi-machine cluster that path must be on a filesystem every node shares.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime
import json
import multiprocessing as mp
import multiprocessing.util as mp_util
import os
import queue as queue_mod
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from composer.batch.jobfile import RENDER, Hasher, Job, JobFile, KaraokeSettings, load_jobfile
from composer.errors import ComposerError, Terminated
from composer.types import Progress
from composer.util.files import (
    check_outputs_spare_inputs,
    folder_lock,
    made_here,
    record_written,
    remove_stale_parts,
    remove_stale_work,
    write_text_atomic,
)
from composer.util.lifetime import die_with_parent

# event(job name, state, info): state is one of queued, skipped, running, done, failed; info carries
# "stage", "fraction", "error", "seconds", "reason". Only cli.py turns these into terminal output.
Event = Callable[[str, str, dict], None]

RAY_MISSING = "Ray is not installed: pip install 'composer[cluster]'"
MAX_MANIFEST_BYTES = 64 << 20  # a manifest holds a few hundred bytes a job


def _no_event(name: str, state: str, info: dict) -> None:
    pass


@dataclass(frozen=True)
class JobResult:
    """A job's outcome: planned (queued, skipped, or failed on its inputs), then run (done or failed)."""

    name: str
    kind: str
    status: str  # queued, done, failed, skipped
    outputs: tuple[str, ...] = ()  # every file the job wrote
    error: str | None = None  # one line
    seconds: float = 0.0
    reason: str = ""  # why a job is skipped or run

    @staticmethod
    def failed(job: Job, error: str, seconds: float = 0.0) -> JobResult:
        return JobResult(job.name, job.kind, "failed", error=error, seconds=seconds)


@dataclass
class BatchResult:
    jobfile: Path
    manifest: Path
    results: list[JobResult]
    wall_s: float

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)


# ----------------------------------------------------------------------------------------------- manifest


def read_manifest(path: Path) -> dict:
    """The manifest's jobs; an unreadable one counts as empty (every job runs again, nothing is lost)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(path: Path, entries: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(entries, indent=2, sort_keys=True) + "\n")
    record_written([path])


def check_manifest_is_ours(path: Path) -> None:
    """A file at the manifest's name that composer did not write is never replaced: one error before any job
    runs. A manifest of an earlier composer (written before folders kept a record) still reads as one."""
    if made_here(path) or _reads_as_manifest(path):
        return
    raise ComposerError(
        f"{path}: already there, and not a batch manifest composer wrote: composer never replaces it; "
        "remove it, or give the job file another name or out_dir"
    )


def _reads_as_manifest(path: Path) -> bool:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(isinstance(e, dict) and isinstance(e.get("hash"), str) for e in data.values())


def _job_outputs(job: Job) -> list[Path]:
    """Every file a job writes: the videos and, beside each, its sidecars, thumbnail and (render) upload kit."""
    from composer.karaoke.engine import output_paths

    return [p for out in job.outputs for p in output_paths(out, upload=job.kind == RENDER)]


def _output_folders(jobfile: JobFile) -> dict[Path, set[str]]:
    """Each folder the batch writes in, with the stems of the files it writes there."""
    stems: dict[Path, set[str]] = {}
    for job in jobfile.jobs:
        for p in _job_outputs(job):
            stems.setdefault(p.parent, set()).add(p.stem)
    stems.setdefault(jobfile.manifest.parent, set()).add(jobfile.manifest.stem)
    return stems


@contextlib.contextmanager
def _lock_output_folders(jobfile: JobFile):
    """One batch at a time per output folder: a second one would clean up or overwrite the first one's work."""
    with contextlib.ExitStack() as locks:
        for folder in sorted(_output_folders(jobfile)):
            folder.mkdir(parents=True, exist_ok=True)
            locks.enter_context(folder_lock(folder))
        yield


def remove_stale_temporaries(jobfile: JobFile) -> list[Path]:
    """What killed runs left in the output folders: work folders whose owner is gone and unheld temporary
    files of this batch's outputs; nothing composer did not make, nothing a live run holds."""
    removed: list[Path] = []
    for folder, stems in _output_folders(jobfile).items():
        removed += remove_stale_work(folder) + remove_stale_parts(folder, stems)
    return removed


# ----------------------------------------------------------------------------------------------- plan


@dataclass
class Plan:
    jobfile: JobFile
    run: list[tuple[Job, str]]  # (job, inputs hash)
    results: list[JobResult]  # skipped jobs and jobs that failed before running (a missing input)
    manifest: dict


def plan_batch(jobfile: JobFile) -> Plan:
    """Which jobs run and why; a job whose inputs cannot be read fails here, alone."""
    manifest = read_manifest(jobfile.manifest)
    hasher = Hasher()
    every_output = [p for job in jobfile.jobs for p in _job_outputs(job)]
    run, results = [], []
    for job in jobfile.jobs:
        try:
            digest = hasher.job(job)
        except (ComposerError, OSError) as e:
            results.append(replace(JobResult.failed(job, _message(e)), reason="inputs unreadable"))
            continue
        try:
            # a job reading what this batch writes would re-run forever on its own lossy output
            check_outputs_spare_inputs(every_output, _job_inputs(job), "give the outputs another name or folder")
        except ComposerError as e:
            results.append(replace(JobResult.failed(job, _message(e)), reason="an output is an input"))
            continue
        entry = manifest.get(job.name)
        reason = _rerun_reason(entry, digest, job)
        if reason is None:
            outputs = tuple(entry.get("outputs", []))
            results.append(JobResult(job.name, job.kind, "skipped", outputs, reason="done, inputs unchanged"))
        else:
            run.append((job, digest))
            results.append(JobResult(job.name, job.kind, "queued", reason=reason))
    return Plan(jobfile, run, results, manifest)


def _job_inputs(job: Job) -> list:
    from composer.karaoke.engine import karaoke_inputs

    s = job.settings
    if isinstance(s, KaraokeSettings):
        return [i for t in job.templates for i in karaoke_inputs(s.audio, s.lyrics, s.images, t or "", s.background)]
    from composer.band.profile import find_band
    from composer.band.render import band_inputs

    return band_inputs(find_band(s.band, s.bands_dir), job.templates)


def _rerun_reason(entry, digest: str, job: Job) -> str | None:
    if not isinstance(entry, dict):
        return "new"
    if entry.get("status") != "done":
        return "failed before"
    if entry.get("hash") != digest:
        return "inputs or settings changed"
    if not all(p.exists() for p in _job_outputs(job)):
        return "an output is missing"
    return None


# ----------------------------------------------------------------------------------------------- one job


def run_job(job: Job, progress: Progress | None = None) -> JobResult:
    """Run one job (in a worker process or a Ray task); its outcome, never an exception."""
    t0 = time.perf_counter()
    progress = progress or (lambda stage, done, total: None)
    try:
        outputs = _render_job(job, progress)
    except Exception as e:  # noqa: BLE001 - one job's failure is reported, the batch goes on
        return JobResult.failed(job, _message(e), time.perf_counter() - t0)
    return JobResult(job.name, job.kind, "done", outputs, seconds=time.perf_counter() - t0)


def _render_job(job: Job, progress) -> tuple[str, ...]:
    s = job.settings
    for out in job.outputs:
        out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(s, KaraokeSettings):
        from composer.karaoke.engine import karaoke

        results = [
            karaoke(
                s.audio,
                s.lyrics,
                s.images,
                out,
                template=t or "gore",
                seed=s.seed,
                title=s.title,
                offset=s.offset,
                background=s.background,
                progress=progress,
            )
            for t, out in zip(job.templates, job.outputs)
        ]
        files = [(r.video, *r.sidecars, r.thumbnail) for r in results]
    else:
        from composer.band.profile import find_band
        from composer.band.render import render_band_versions

        results = render_band_versions(
            find_band(s.band, s.bands_dir),
            s.length,
            list(zip(job.templates, job.outputs)),
            size=s.size,
            seed=s.seed,
            songs=s.songs,
            progress=progress,
        )
        files = [(r.video, *r.sidecars, r.thumbnail, *r.upload) for r in results]
    return tuple(str(p) for group in files for p in group)


def _message(e: BaseException) -> str:
    if isinstance(e, ComposerError):
        return str(e)
    return f"{type(e).__name__}: {e}".splitlines()[0]


# ----------------------------------------------------------------------------------------------- the batch


def run_batch(
    jobfile: str | os.PathLike | JobFile, *, workers: int = 1, ray: str | None = None, event: Event = _no_event
) -> BatchResult:
    """Run a job file's unfinished jobs; ``ray`` is None (local pool), "local" or a cluster address.

    KeyboardInterrupt (Ctrl-C, or SIGTERM while this runs in the main thread) stops the workers and
    leaves the finished outputs and the manifest as they are.
    """
    t0 = time.perf_counter()
    jf = jobfile if isinstance(jobfile, JobFile) else load_jobfile(jobfile)
    if workers < 1:
        raise ComposerError(f"--workers must be at least 1 (got {workers})")
    if ray is not None:
        _import_ray()  # fail before touching anything
    with _lock_output_folders(jf):
        return _run_locked(jf, workers, ray, event, t0)


def _run_locked(jf: JobFile, workers: int, ray: str | None, event: Event, t0: float) -> BatchResult:
    check_manifest_is_ours(jf.manifest)
    remove_stale_temporaries(jf)
    plan = plan_batch(jf)
    results = {r.name: r for r in plan.results}
    entries = dict(plan.manifest)
    for r in plan.results:
        event(r.name, r.status, {"kind": r.kind, "reason": r.reason, "error": r.error})
    hashes = {job.name: digest for job, digest in plan.run}

    def finished(job: Job, outcome: JobResult) -> None:
        res = results[job.name] = replace(outcome, reason=results[job.name].reason)
        entries[job.name] = {
            "hash": hashes[job.name],
            "status": res.status,
            "outputs": list(res.outputs),
            "error": res.error,
            "seconds": round(res.seconds, 3),
            "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        _write_manifest(jf.manifest, entries)
        event(job.name, res.status, {"kind": job.kind, "error": res.error, "seconds": res.seconds})

    jobs = [job for job, _ in plan.run]
    with _terminate_as_interrupt():
        if ray is None:
            _run_local(jobs, workers, finished, event)
        else:
            _run_ray(jobs, ray, finished, event)
    ordered = [results[job.name] for job in jf.jobs]
    return BatchResult(jf.path, jf.manifest, ordered, time.perf_counter() - t0)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so workers are stopped and nothing half-written is kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# ----------------------------------------------------------------------------------------------- local pool

_progress_queue = None
_in_job = False


class _Stopped(BaseException):
    """Raised inside a worker by SIGTERM: unwinds the render (ffmpeg killed, temporaries removed)."""


def _worker_init(progress_queue, parent_pid: int) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us with SIGTERM
    signal.signal(signal.SIGTERM, _worker_sigterm)
    signal.signal(signal.SIGALRM, _worker_sigterm)
    sys.unraisablehook = _stop_again_if_swallowed
    # if the parent is killed outright (SIGKILL), we are stopped too: we must not finish the job and write an
    # output the rerun is already redoing
    die_with_parent(parent_pid)


_AGAIN_S = 0.05


def _worker_sigterm(signum, frame) -> None:
    if not _in_job:
        os._exit(143)
    if frame is not None and frame.f_code is _stop_again_if_swallowed.__code__:
        signal.setitimer(signal.ITIMER_REAL, _AGAIN_S)  # raised in the hook it would be swallowed again
        return
    raise _Stopped


def _stop_again_if_swallowed(unraisable) -> None:
    """SIGTERM that lands inside a ``__del__`` (or a weakref callback) raises _Stopped where Python can only
    print "Exception ignored in ..." and go on: the job would run on until the parent's SIGKILL. Stop it
    again a moment later (SIGALRM, the same handler), in the job's own code."""
    if isinstance(unraisable.exc_value, _Stopped):
        signal.setitimer(signal.ITIMER_REAL, _AGAIN_S)
        return
    sys.__unraisablehook__(unraisable)


def _exit_stopped() -> None:
    """End a worker whose job was stopped, now (the executor would otherwise go on to its next job).

    ``os._exit`` skips multiprocessing's exit finalizers, and with them the unlinking of the named semaphores
    that queues made in this process hold (a band render's audio process has two queues): the resource
    tracker the parent shares would then warn of them as leaked when the batch ends. Run those finalizers
    first (priority >= 0: they release, they never wait), as a multiprocessing child's normal end does."""
    with contextlib.suppress(Exception):
        _progress_queue.cancel_join_thread()  # the parent has stopped reading progress
        mp_util._run_finalizers(0)  # no public API for this
    os._exit(143)


def _worker_job(job: Job) -> JobResult:
    global _in_job
    name, last = job.name, [None, -1.0]

    def progress(stage: str, done: float, total: float) -> None:
        frac = min(1.0, done / total) if total else 0.0
        if stage != last[0] or frac - last[1] >= 0.01 or frac >= 1.0:  # a few hundred messages a job at most
            last[:] = [stage, frac]
            _progress_queue.put((name, stage, frac))

    _in_job = True
    try:
        _progress_queue.put((name, "starting", 0.0))
        return run_job(job, progress)
    except _Stopped:
        _exit_stopped()  # everything the job held has been unwound and cleaned up by now
    finally:
        _in_job = False


def _run_local(jobs: list[Job], workers: int, finished, event: Event) -> None:
    if not jobs:
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no torch thread pools or locks inherited through fork
    # a plain queue handed over at process start (inheritance) needs no Manager server process to outlive us
    progress_q = ctx.Queue()
    pending = list(jobs)
    inflight: dict[cf.Future, Job] = {}
    pool = None
    try:
        while pending or inflight:
            if pool is None:
                pool = cf.ProcessPoolExecutor(
                    max_workers=min(workers, len(jobs)),
                    mp_context=ctx,
                    initializer=_worker_init,
                    initargs=(progress_q, os.getpid()),
                )
            # hand out jobs only as workers free up, so the jobs in flight are exactly the ones running
            while pending and len(inflight) < workers:
                job = pending.pop(0)
                inflight[pool.submit(_worker_job, job)] = job
                event(job.name, "running", {"kind": job.kind, "stage": "waiting", "fraction": 0.0})
            done, _ = cf.wait(inflight, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            _drain(progress_q, event)
            broken = False
            for fut in done:
                job = inflight.pop(fut)
                try:
                    outcome = fut.result()
                except cf.process.BrokenProcessPool:
                    broken = True
                    outcome = JobResult.failed(job, "the worker process died")
                finished(job, outcome)
            if broken:  # a dead worker breaks the whole pool: start a fresh one for the jobs still to run
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
    except BaseException:
        if pool is not None:
            _stop_pool(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        progress_q.cancel_join_thread()
        progress_q.close()


def _drain(progress_q, event: Event) -> None:
    while True:
        try:
            name, stage, frac = progress_q.get_nowait()
        except (queue_mod.Empty, OSError, EOFError):
            return
        event(name, "running", {"stage": stage, "fraction": frac})


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """SIGTERM every worker (each unwinds its render and exits), then reap them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public API for this before 3.14
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + 15
    for p in procs:
        p.join(timeout=max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(timeout=2)
    pool.shutdown(wait=False, cancel_futures=True)


# ----------------------------------------------------------------------------------------------- Ray


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ComposerError(RAY_MISSING) from None
    return ray


def _ray_job(job: Job) -> JobResult:
    return run_job(job)


def _run_ray(jobs: list[Job], address: str, finished, event: Event) -> None:
    if not jobs:
        return
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=None if address == "local" else address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except Exception as e:  # noqa: BLE001 - a wrong address or an unreachable cluster is one line
            raise ComposerError(f"--ray-address {address}: cannot connect to Ray ({_message(e)})") from None
    try:
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(_ray_job)
        refs = {}
        for job in jobs:
            # a worker that dies (node lost, OOM-killed) is retried; the job's own errors come back as data
            opts = {"num_cpus": 1, "max_retries": 2, "num_gpus": 1 if gpus and job.kind == RENDER else 0}
            refs[task.options(**opts).remote(job)] = job
            event(job.name, "running", {"kind": job.kind, "stage": "ray task", "fraction": 0.0})
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - retries exhausted: the job fails, the others go on
                    outcome = JobResult.failed(job, f"Ray task failed: {_message(e)}")
                finished(job, outcome)
    except BaseException:
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()


__all__ = [
    "BatchResult",
    "JobResult",
    "Plan",
    "load_jobfile",
    "plan_batch",
    "read_manifest",
    "remove_stale_temporaries",
    "run_batch",
    "run_job",
]

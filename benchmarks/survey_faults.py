"""Faults injected into a full-size survey reduction (issue #8, the fault cases at full size).

The CI tests (``tests/scale/test_faults.py``) inject each fault into a
100-observation archive. This script injects them into the survey-sized one
that ``make_archive.py`` builds, reduced with the configuration of
``survey_scale.py`` on a ``distributed.LocalCluster`` (2 workers of 1 thread,
``--memory-limit`` each, profiler off), and checks every outcome against a clean
run of the same observations (the store ``survey_scale.py --keep`` writes)::

    python benchmarks/survey_faults.py --archive /scratch/gps3000 \\
        --clean /scratch/gps3000-mosaic.zarr --work /scratch/faults

Cases (``--cases``):

``kill``
    1% of the observations broken, a third each way: a truncated gzip stream,
    an event file without its GTI HDU, an IRF file with NaN background values
    (a view of the archive: symbolic links, and copies of what is broken). A
    client process reduces it with ``errors="skip"``; one worker process is
    killed (``SIGKILL``) at ``--kill-worker-at`` of the run and the client
    (``SIGKILL``) at ``--kill-client-at``; then the same command runs again.
    Checked: the failure report lists exactly the broken observations, each
    with its error; the rerun skipped every observation complete at the kill;
    every other observation's files are byte-identical to the clean run's; the
    mosaic is byte-identical to the clean store re-stacked without the broken
    observations (a hard-linked copy of it, so nothing is recomputed).
``disk-full``
    The store is on a tmpfs of ``--tmpfs-size``; the run must stop with
    :class:`~gammax.reduce.zarr_store.StoreWriteError` (``ENOSPC``) naming the
    store and leave every complete observation byte-identical to the clean
    run's. (The run summary stays ``"running"``: it cannot be written either.)
``read-only``
    The tmpfs is remounted read-only once ``--readonly-after`` observations
    are complete, mid-run; the same checks (``EROFS``).

The tmpfs cases need root (``mount``); without it they are reported as not
run. Printed: per case, the wall time against the clean run's, the checks,
and the peak RSS of every worker process (sampled every 0.5 s, restarted
workers included). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import errno
import filecmp
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import MemoryTrace, local_cluster
from survey_scale import survey_config

KINDS = {
    "truncated": "CorruptFileError",
    "no_gti": "HDUNotFoundError",
    "nan_irf": "InvalidIRFError",
}


# --- the broken archive ------------------------------------------------------------------


def broken_view(archive: Path, dst: Path, obs_ids: list[int], fraction: float) -> dict[int, str]:
    """Mirror ``archive`` in ``dst`` (symbolic links) with ``fraction`` of it broken.

    Returns ``{obs_id: kind}`` of the broken observations, spread evenly over
    ``obs_ids``; the kinds take turns.
    """
    import numpy as np
    from astropy.io import fits
    from astropy.table import Table

    bad = choose_broken(obs_ids, fraction)
    if dst.exists():
        shutil.rmtree(dst)
    for directory, _, files in os.walk(archive):
        target = dst / Path(directory).relative_to(archive)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            (target / name).symlink_to(Path(directory, name).resolve())
    index = Table.read(archive / "hdu-index.fits.gz")
    index.convert_bytestring_to_unicode()
    index["FILE_NAME"] = index["FILE_NAME"].astype("U64")

    def rows(obs_id, types):
        return (index["OBS_ID"] == obs_id) & np.isin(index["HDU_TYPE"], types)

    nan_irf = None
    for obs_id, kind in bad.items():
        row = index[rows(obs_id, ["events"])][0]
        name = dst / row["FILE_DIR"] / row["FILE_NAME"]
        original = name.resolve()
        name.unlink()
        if kind == "truncated":
            raw = original.read_bytes()
            name.write_bytes(raw[: len(raw) // 2])
        elif kind == "no_gti":
            with fits.open(original) as hdul:
                kept = fits.HDUList([h.copy() for h in hdul if h.name != "GTI"])
            with gzip.open(name, "wb") as fh:
                kept.writeto(fh)
        else:  # the event file is fine; the observation's IRF file has NaN background
            name.symlink_to(original)
            irf = rows(obs_id, ["aeff", "edisp", "psf", "bkg"])
            if nan_irf is None:
                first = index[irf][0]
                source = (archive / first["FILE_DIR"] / first["FILE_NAME"]).resolve()
                with fits.open(source) as hdul:
                    hdul = fits.HDUList([h.copy() for h in hdul])
                bkg = hdul["BACKGROUND"].data["BKG"].copy()
                mid = bkg.shape[1] // 2
                bkg[0, mid, 5:8, 5:8] = np.nan
                hdul["BACKGROUND"].data["BKG"] = bkg
                nan_irf = dst / first["FILE_DIR"] / "nan_irf.fits.gz"
                hdul.writeto(nan_irf)
            index["FILE_NAME"][irf] = nan_irf.name
    (dst / "hdu-index.fits.gz").unlink()
    index.write(dst / "hdu-index.fits.gz")
    return bad


# --- comparisons with the clean run ------------------------------------------------------


def compare_observations(store: Path, clean: Path, obs_ids, name: str = "map") -> dict:
    """Byte-compare every file of the observations' groups with the clean store's.

    The observation group's own ``zarr.json`` is left out (its attributes hold
    the input paths and the task time); its event count is compared instead.
    """
    import zarr

    n_files, differ = 0, []
    for obs_id in obs_ids:
        base, ref = store / name / "obs" / str(obs_id), clean / name / "obs" / str(obs_id)
        files = sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file())
        if files != sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file()):
            differ.append(f"{obs_id}: not the same files")
            continue
        for rel in files:
            if rel != Path("zarr.json"):
                n_files += 1
                if not filecmp.cmp(base / rel, ref / rel, shallow=False):
                    differ.append(f"{obs_id}/{rel}")
        a = zarr.open_group(str(base), mode="r").attrs.get("gammax_n_events")
        b = zarr.open_group(str(ref), mode="r").attrs.get("gammax_n_events")
        if a != b:
            differ.append(f"{obs_id}: {a} != {b} events")
    return {"observations": len(list(obs_ids)), "files": n_files, "differ": differ[:20]}


def compare_stacked(store: Path, reference: Path, name: str = "map") -> dict:
    """Byte-compare the stacked products' chunk files (``.../c/...``)."""
    base, ref = store / name / "stacked", reference / name / "stacked"
    files = sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file() and "c" in p.parts)
    ref_files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file() and "c" in p.parts)
    if files != ref_files:
        return {"files": len(files), "differ": ["not the same chunk files"]}
    differ = [str(f) for f in files if not filecmp.cmp(base / f, ref / f, shallow=False)]
    return {"files": len(files), "differ": differ[:20]}


# --- the client process -------------------------------------------------------------------


def client_main(archive: str, output: str, address: str, errors: str) -> None:
    """Child: reduce every observation of ``archive`` on the cluster at ``address``."""
    # a background job of a non-interactive shell starts with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from distributed import Client

    import gammax
    from gammax.reduce import reduce_observations

    with Client(address) as client:
        result = reduce_observations(
            gammax.open_datastore(archive), survey_config(), output, client=client, errors=errors
        )
    print(json.dumps(result.to_dict()))


def start_client(archive, output, address, errors="skip") -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--client", str(archive), str(output), address, errors]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_completed(path: Path, at_least: int, proc=None, poll: float = 2.0) -> int:
    """Wait until ``at_least`` observations are complete (or ``proc`` ended); how many are."""
    from gammax.reduce.zarr_store import completed_observations

    while True:
        try:
            n = len(completed_observations(path, "map"))
        except Exception:  # the store is being created
            n = 0
        if n >= at_least or (proc is not None and proc.poll() is not None):
            return n
        time.sleep(poll)


def wait_idle(client, timeout: float = 300.0) -> float:
    """Wait until no worker holds a task (those of a killed client finish first)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        held = client.run(lambda dask_worker: len(dask_worker.state.tasks))
        if not any(held.values()):
            return time.monotonic() - t0
        time.sleep(1.0)
    raise RuntimeError(f"workers still busy after {timeout} s: {held}")


# --- the cases -----------------------------------------------------------------------------


def choose_broken(obs_ids: list[int], fraction: float) -> dict[int, str]:
    """``{obs_id: kind}``: ``fraction`` of ``obs_ids``, spread evenly, the kinds in turn."""
    n_bad = max(3, round(fraction * len(obs_ids)))
    step = len(obs_ids) / n_bad
    return {obs_ids[int((k + 0.5) * step)]: list(KINDS)[k % 3] for k in range(n_bad)}


def run_kill(args, client, obs_ids: list[int]) -> dict:
    """The faulted run: broken files, a worker killed, the client killed, a rerun.

    What happened is written to ``<work>/kill_events.json`` as it happens.
    """
    work = Path(args.work)
    t_view = time.perf_counter()
    bad = broken_view(Path(args.archive), work / "broken-archive", obs_ids, args.fraction)
    out = work / "faulted.zarr"
    if out.exists():
        shutil.rmtree(out)
    pids = sorted(client.run(os.getpid).values())
    events: dict = {"broken": {str(o): k for o, k in sorted(bad.items())}}
    events["view_seconds"] = round(time.perf_counter() - t_view, 1)
    record = work / "kill_events.json"

    def save():
        record.write_text(json.dumps(events, indent=1))

    from gammax.reduce.zarr_store import completed_observations, run_summary

    t0 = time.perf_counter()
    proc = start_client(work / "broken-archive", out, args.address)
    events["worker_killed_at"] = wait_completed(out, int(args.kill_worker_at * len(obs_ids)), proc)
    os.kill(pids[0], signal.SIGKILL)
    events["worker_killed_s"] = round(time.perf_counter() - t0, 1)
    events["worker_pids_before"] = pids
    save()
    wait_completed(out, int(args.kill_client_at * len(obs_ids)), proc)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    if proc.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the client ended before it was killed:\n{err[-3000:]}")
    events["client_killed_s"] = round(time.perf_counter() - t0, 1)
    events["idle_wait_s"] = round(wait_idle(client), 1)
    events["complete_at_kill"] = sorted(completed_observations(out, "map"))
    events["client_killed_at"] = len(events["complete_at_kill"])
    events["status_after_kill"] = run_summary(out)["status"]
    save()
    t1 = time.perf_counter()
    proc = start_client(work / "broken-archive", out, args.address)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the rerun failed:\n{err[-3000:]}")
    events["rerun_s"] = round(time.perf_counter() - t1, 1)
    events["total_s"] = round(time.perf_counter() - t0, 1)
    events["worker_pids_after"] = sorted(client.run(os.getpid).values())
    save()
    return events


def check_kill(args, client, obs_ids: list[int], clean_summary: dict, events: dict) -> dict:
    """Check the faulted run's store against the clean run (``events``: what ``run_kill`` saw)."""
    import gammax
    from gammax.reduce import reduce_observations
    from gammax.reduce.zarr_store import completed_observations, failure_report, run_summary

    work = Path(args.work)
    out = work / "faulted.zarr"
    bad = {int(o): k for o, k in events["broken"].items()}
    good = [o for o in obs_ids if o not in bad]
    rerun = run_summary(out)
    history = zarr_attrs(out)["run_history"]
    report = failure_report(out)
    before, after = events.get("worker_pids_before"), events.get("worker_pids_after")
    started = _dt.datetime.fromisoformat(rerun["started"]).timestamp()
    checks = {
        "rerun_finished_after_a_killed_run": rerun["status"] == "finished"
        and rerun["previous_status"] == "running"
        and [h["status"] for h in history][-2:] == ["running", "finished"],
        "failed_exactly_the_broken": set(report) == set(bad)
        and {int(o) for o in rerun["failed"]} == set(bad),
        "errors_as_expected": all(report[o]["error"] == KINDS[k] for o, k in bad.items()),
        "all_good_complete": completed_observations(out, "map") == set(good),
        # the observations complete before the rerun were not rewritten by it
        "resumed_untouched": all(
            f.stat().st_mtime < started
            for o in rerun["resumed"]
            for f in (out / "map" / "obs" / str(o)).rglob("*")
            if f.is_file()
        ),
    }
    if before and after:
        checks["worker_replaced"] = before[0] not in after and len(after) == len(before)
    if "complete_at_kill" in events:
        checks["resumed_exactly_the_complete"] = sorted(rerun["resumed"]) == sorted(
            events["complete_at_kill"]
        )
    failure_examples = {
        kind: next(
            {k: report[o].get(k) for k in ("error", "file", "hdu", "message")}
            for o, kd in bad.items()
            if kd == kind
        )
        for kind in KINDS
    }
    t2 = time.perf_counter()
    observations = compare_observations(out, Path(args.clean), good)
    compare_s = round(time.perf_counter() - t2, 1)
    checks["observations_identical"] = not observations["differ"]
    # the clean store, hard-linked (files are replaced by rename, never rewritten in
    # place), re-stacked without the broken observations: nothing is recomputed
    reference = work / "clean-restacked.zarr"
    if reference.exists():
        shutil.rmtree(reference)
    subprocess.run(["cp", "-al", str(args.clean), str(reference)], check=True)
    t3 = time.perf_counter()
    restack = reduce_observations(
        gammax.open_datastore(args.archive), survey_config(), reference, obs_ids=good, client=client
    )
    restack_s = round(time.perf_counter() - t3, 1)
    checks["restack_recomputed_nothing"] = not restack.done and len(restack.resumed) == len(good)
    stacked = compare_stacked(out, reference)
    checks["mosaic_identical"] = not stacked["differ"]
    shutil.rmtree(reference)
    return {
        "n_obs": len(obs_ids),
        "clean_reduce_seconds": clean_summary.get("wall_seconds"),
        "rerun": {
            k: rerun[k] for k in ("n_done", "n_resumed", "n_failed", "n_recovered", "wall_seconds")
        },
        "events": {k: v for k, v in events.items() if k != "complete_at_kill"},
        "failure_examples": failure_examples,
        "compare_seconds": compare_s,
        "restack_seconds": restack_s,
        "compared": {"observations": observations, "stacked": stacked},
        "checks": checks,
    }


def zarr_attrs(path: Path, group: str = "map") -> dict:
    import zarr

    return dict(zarr.open_group(str(path), mode="r", use_consolidated=False)[group].attrs)


def _mount(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def _remount_readonly(path: Path, tries: int = 200) -> int:
    """Remount read-only; a file open for writing makes it busy, so retry. Returns tries used."""
    for i in range(tries):
        done = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True)
        if done.returncode == 0:
            return i + 1
        time.sleep(0.05)
    raise RuntimeError(f"could not remount {path} read-only: {done.stderr!r}")


def case_store(args, client, obs_ids: list[int], kind: str) -> dict:
    """The store fills up (``disk-full``) or turns read-only mid-run (``read-only``)."""
    import gammax
    from gammax.reduce import reduce_observations
    from gammax.reduce.zarr_store import StoreWriteError, completed_observations, run_summary

    if os.geteuid() != 0:
        return {"run": False, "why": "needs root to mount a tmpfs"}
    mnt = Path(args.work) / f"tmpfs-{kind}"
    _mount(mnt, args.tmpfs_size if kind == "disk-full" else "64G")
    out = mnt / "store.zarr"
    info: dict = {}
    try:
        if kind == "read-only":

            def turn_readonly():
                info["readonly_at"] = wait_completed(out, args.readonly_after)
                info["remount_tries"] = _remount_readonly(mnt)

            watcher = threading.Thread(target=turn_readonly, daemon=True)
            watcher.start()
        t0 = time.perf_counter()
        error = None
        try:
            reduce_observations(
                gammax.open_datastore(args.archive), survey_config(), out, client=client
            )
        except StoreWriteError as err:
            error = err
        info["seconds_to_error"] = round(time.perf_counter() - t0, 1)
        info["idle_wait_s"] = round(wait_idle(client), 1)
        if kind == "read-only":
            watcher.join()
            subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        expected = errno.ENOSPC if kind == "disk-full" else errno.EROFS
        finished = completed_observations(out, "map")
        compared = compare_observations(out, Path(args.clean), sorted(finished))
        summary = run_summary(out) or {}
        info.update(
            error=None if error is None else f"{type(error).__name__}: {error}",
            errno=None if error is None else error.errno,
            complete=len(finished),
            status=summary.get("status"),
            compared=compared,
            checks={
                "clear_error": error is not None
                and error.errno == expected
                and str(out) in str(error),
                "complete_observations_intact": bool(finished) and not compared["differ"],
            },
        )
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    return info


def main(argv=None) -> dict | None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--archive", help="archive built by make_archive.py")
    p.add_argument("--clean", help="clean store of the same archive (survey_scale.py --keep)")
    p.add_argument("--work", help="working directory (the faulted stores, the broken view)")
    p.add_argument("--cases", nargs="+", default=["kill", "disk-full", "read-only"])
    p.add_argument("--fraction", type=float, default=0.01, help="observations broken")
    p.add_argument("--kill-worker-at", type=float, default=0.25)
    p.add_argument("--kill-client-at", type=float, default=0.55)
    p.add_argument("--tmpfs-size", default="1G")
    p.add_argument("--readonly-after", type=int, default=150)
    p.add_argument("--memory-limit", default="2GB")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="check the faulted store of an earlier run (<work>/kill_events.json) again",
    )
    args = p.parse_args(argv)
    if args.client:
        client_main(*args.client)
        return None
    if not (args.archive and args.clean and args.work):
        p.error("--archive, --clean and --work are required")
    import dask
    import psutil
    from distributed import Client

    from gammax.reduce.zarr_store import run_summary

    clean_summary = run_summary(args.clean)
    if not clean_summary or clean_summary["status"] != "finished":
        raise SystemExit(f"{args.clean}: not a finished reduction")
    obs_ids = sorted(clean_summary["done"] + clean_summary["resumed"])
    Path(args.work).mkdir(parents=True, exist_ok=True)
    me = psutil.Process()

    def workers():  # the worker processes, restarted ones included (the client's excluded)
        procs = {}
        for child in me.children(recursive=True):
            try:
                if "--client" not in child.cmdline() and child.memory_info().rss > 100 * 2**20:
                    procs[str(child.pid)] = child
            except psutil.Error:
                continue
        return procs

    out: dict = {"benchmark": "survey_faults", "archive": args.archive, "cases": {}}
    with (
        dask.config.set({"distributed.worker.profile.enabled": False}),
        local_cluster(2, args.memory_limit) as cluster,
        Client(cluster) as client,
    ):
        args.address = cluster.scheduler_address
        for case in args.cases:
            with MemoryTrace(workers) as trace:
                if case == "kill":
                    record = Path(args.work) / "kill_events.json"
                    if args.reuse and record.exists():
                        events = json.loads(record.read_text())
                    else:
                        events = run_kill(args, client, obs_ids)
                    res = check_kill(args, client, obs_ids, clean_summary, events)
                else:
                    res = case_store(args, client, obs_ids, case)
            res["workers_peak_rss_mb"] = {k: round(v) for k, v in trace.peaks().items()}
            out["cases"][case] = res
            checks = res.get("checks", {})
            print(f"{case}: {'all checks pass' if all(checks.values()) else 'FAILED'} {checks}")
            print(json.dumps(res, indent=1), flush=True)
    out["all_pass"] = all(
        all(c.get("checks", {"run": False}).values()) for c in out["cases"].values()
    )
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

"""Simulated DL3 archives: one file per observation, written by a dask graph, plus index tables.

:func:`simulate_archive` builds one graph:

- one task evaluates the instrument's IRFs on sampling grids
  (:func:`~gammax.simulate.build_tables`; shared by every observation);
- one task per extended source pixelises it (shared by the observations that
  see it);
- one task per observation draws its events (:func:`~gammax.simulate.sample_events`),
  writes its DL3 file and returns a small summary;
- a last task writes ``hdu-index.fits.gz`` and ``obs-index.fits.gz`` from the
  summaries.

Inputs of the tasks are small and picklable; seeds derive from the master seed
and the observation id, so the files are the same on any scheduler (threads,
processes, a ``distributed`` cluster) and for any number of workers. Memory is
bounded by the shared tables plus a few observations' events per worker.

Layout of an archive::

    root/
      hdu-index.fits.gz, obs-index.fits.gz
      data/obs_000001.fits.gz ...       EVENTS + GTI (+ IRFs with irf="embed")
      irf/<instrument>.fits.gz          the IRFs, with irf="shared" (default)

Examples
--------
>>> from gammax.simulate import Instrument, simulate_archive, wobble_pointings
>>> specs = wobble_pointings((83.63, 22.01), 4, ontime=600)
>>> result = simulate_archive("crab-sim", specs, Instrument.analytic(), crab_models, seed=1)
... # doctest: +SKIP
>>> store = result.open()  # gammax.DataStore  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from astropy.io import fits

from ..errors import ConfigError
from ..models import Models, SkyModel
from .dl3 import events_hdu, gti_hdu, write_hdulist, write_index_tables
from .events import sample_events
from .instrument import IRF_TYPES, Instrument
from .irf_fits import irf_to_hdu
from .observation import ObservationSpec
from .sources import SourceSampler, pixelise, source_stub, split_models
from .tables import SamplingConfig, SamplingTables, build_tables

__all__ = ["ArchiveResult", "IRFLayout", "simulate_archive", "write_observation"]


@dataclass(frozen=True)
class IRFLayout:
    """Where an archive's IRFs are: embedded in each file, or one file for all.

    ``mode`` is ``"embed"``, ``"shared"`` (``irf/<name>.fits.gz`` in the
    archive) or ``"reference"`` (the instrument's source file, by a path
    relative to the archive root). ``rows`` are ``(hdu_type, hdu_class,
    hdu_name)`` of the IRFs.
    """

    mode: str
    rows: tuple[tuple[str, str, str], ...]
    file_dir: str = "."
    file_name: str = ""


def _layout(instrument: Instrument, root: Path, mode: str) -> IRFLayout:
    rows = tuple(instrument.hdu_index_rows())
    if mode == "embed":
        return IRFLayout("embed", rows)
    if mode == "shared":
        return IRFLayout("shared", rows, "irf", f"{instrument.name}.fits.gz")
    if mode == "reference":
        if instrument.source is None:
            raise ConfigError("irf='reference' needs an instrument read from a file")
        source = Path(instrument.source)
        return IRFLayout(
            "reference", rows, os.path.relpath(source.parent, root.resolve()), source.name
        )
    raise ConfigError(f"irf={mode!r}; expected 'shared', 'embed' or 'reference'")


def write_observation(
    path: str | os.PathLike,
    events: Any,
    spec: ObservationSpec,
    *,
    instrument: Instrument | None = None,
    telescope: str = "GAMMAX-SIM",
    compresslevel: int = 1,
) -> int:
    """Write one DL3 file: EVENTS, GTI and, with ``instrument``, the IRF HDUs.

    Returns the file size in bytes. ``events`` is a Dataset from
    :func:`~gammax.simulate.sample_events` (its ``mc_names`` attrs become
    Gammapy's ``MIDnnnnn``/``MMNnnnnn`` keywords); ``telescope`` is ``TELESCOP``.
    """
    meta: dict[str, Any] = {"TELESCOP": telescope}
    for mc_id, name in sorted(events.attrs.get("mc_names", {}).items()):
        meta[f"MID{int(mc_id):05d}"] = int(mc_id)
        meta[f"MMN{int(mc_id):05d}"] = str(name)[:68]
    if instrument is not None:
        meta["INSTRUME"] = instrument.name[:68]
    hdus = [fits.PrimaryHDU(), events_hdu(events, spec, meta=meta), gti_hdu(spec)]
    if instrument is not None:
        for kind in IRF_TYPES:
            if kind in instrument.irfs():
                hdus.append(irf_to_hdu(instrument.irfs()[kind], instrument.hdu_name(kind)))
    return write_hdulist(fits.HDUList(hdus), path, compresslevel=compresslevel)


def _file_name(obs_id: int) -> str:
    return f"obs_{obs_id:06d}.fits.gz"


def _simulate_one(
    spec: ObservationSpec,
    tables: SamplingTables,
    samplers: list,
    bkg_model,
    seed: int,
    root: str,
    embed: Instrument | None,
    true_columns: bool,
    compresslevel: int,
    telescope: str,
) -> dict:
    t0 = time.perf_counter()
    models = [*samplers, *([bkg_model] if bkg_model is not None else [])]
    events = sample_events(spec, tables, models, seed=seed, true_columns=true_columns)
    name = _file_name(spec.obs_id)
    size = write_observation(
        Path(root) / "data" / name,
        events,
        spec,
        instrument=embed,
        telescope=telescope,
        compresslevel=compresslevel,
    )
    mc = events["MC_ID"].values
    return {
        "spec": spec,
        "file_name": name,
        "size": size,
        "n_events": int(mc.size),
        "n_background": int(np.count_nonzero(mc == 0)),
        "npred": float(sum(events.attrs["npred"].values())),
        "n_sources": len([k for k in events.attrs["mc_names"] if k != 0]),
        "seconds": time.perf_counter() - t0,
    }


def _obs_rows(summaries: list[dict]) -> list[dict]:
    specs = [s["spec"] for s in summaries]
    gal = SkyCoord(
        [s.ra_pnt for s in specs], [s.dec_pnt for s in specs], unit="deg", frame="icrs"
    ).galactic
    rows = []
    for s, summary, glon, glat in zip(specs, summaries, gal.l.deg, gal.b.deg, strict=True):
        row = {
            "OBS_ID": s.obs_id,
            "RA_PNT": s.ra_pnt,
            "DEC_PNT": s.dec_pnt,
            "GLON_PNT": float(glon),
            "GLAT_PNT": float(glat),
        }
        if all(np.isfinite([x.alt_pnt for x in specs])):
            row.update(ALT_PNT=s.alt_pnt, AZ_PNT=s.az_pnt, ZEN_PNT=90.0 - s.alt_pnt)
        row.update(
            TSTART=s.tstart,
            TSTOP=s.tstop,
            ONTIME=s.ontime,
            LIVETIME=s.livetime,
            DEADC=s.deadc,
            OBJECT=s.object,
            EVENT_COUNT=summary["n_events"],
        )
        rows.append(row)
    return rows


def _write_index(root: str, layout: IRFLayout, telescope: str, *summaries: dict) -> list[dict]:
    summaries = sorted(summaries, key=lambda s: s["spec"].obs_id)
    rows = []
    for s in summaries:
        obs_id = s["spec"].obs_id
        rows.append(
            {
                "OBS_ID": obs_id,
                "HDU_TYPE": "events",
                "HDU_CLASS": "events",
                "FILE_DIR": "data",
                "FILE_NAME": s["file_name"],
                "HDU_NAME": "EVENTS",
                "SIZE": s["size"],
            }
        )
        rows.append(
            {
                "OBS_ID": obs_id,
                "HDU_TYPE": "gti",
                "HDU_CLASS": "gti",
                "FILE_DIR": "data",
                "FILE_NAME": s["file_name"],
                "HDU_NAME": "GTI",
                "SIZE": s["size"],
            }
        )
        for hdu_type, hdu_class, hdu_name in layout.rows:
            embedded = layout.mode == "embed"
            rows.append(
                {
                    "OBS_ID": obs_id,
                    "HDU_TYPE": hdu_type,
                    "HDU_CLASS": hdu_class,
                    "FILE_DIR": "data" if embedded else layout.file_dir,
                    "FILE_NAME": s["file_name"] if embedded else layout.file_name,
                    "HDU_NAME": hdu_name,
                    "SIZE": s["size"] if embedded else 0,
                }
            )
    first = summaries[0]["spec"] if summaries else ObservationSpec(0, 0, 0, 0, 1)
    write_index_tables(
        root,
        rows,
        _obs_rows(summaries),
        mjdref=first.mjdref,
        timesys=first.timesys,
        telescope=telescope,
    )
    return summaries


@dataclass
class ArchiveResult:
    """What :func:`simulate_archive` did."""

    path: Path
    observations: pd.DataFrame
    seconds: float
    graph_tasks: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def n_obs(self) -> int:
        """Observations written."""
        return len(self.observations)

    @property
    def n_events(self) -> int:
        """Events written."""
        return int(self.observations["n_events"].sum()) if self.n_obs else 0

    def open(self):
        """The archive as a :class:`gammax.DataStore`."""
        from ..data import open_datastore

        return open_datastore(self.path)

    def summary(self) -> str:
        """One line: observations, events, time, rates."""
        rate = self.n_events / self.seconds if self.seconds > 0 else float("nan")
        return (
            f"{self.path}: {self.n_obs} observations, {self.n_events} events in "
            f"{self.seconds:.1f} s ({self.n_obs / self.seconds:.2f} obs/s, {rate:.3g} "
            "events/s)"
        )


@contextlib.contextmanager
def _progress(enabled: bool, client):
    if not enabled or client is not None:
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar(dt=0.5):
        yield


def _prepare_root(root: Path, overwrite: bool) -> None:
    if (root / "hdu-index.fits.gz").exists() or (root / "data").exists():
        if not overwrite:
            raise FileExistsError(f"{root} already holds an archive; pass overwrite=True")
        shutil.rmtree(root / "data", ignore_errors=True)
        for name in ("hdu-index.fits.gz", "obs-index.fits.gz"):
            (root / name).unlink(missing_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)


def simulate_archive(
    path: str | os.PathLike,
    observations: Sequence[ObservationSpec],
    instrument: Instrument,
    models: Models | SkyModel | None = None,
    *,
    seed: int = 0,
    irf: str = "shared",
    config: SamplingConfig | None = None,
    true_columns: bool = False,
    compresslevel: int = 1,
    overwrite: bool = False,
    client=None,
    progress: bool = False,
) -> ArchiveResult:
    """Simulate a DL3 archive as one dask graph (see the module docstring).

    Parameters
    ----------
    path : path-like
        Archive directory (created).
    observations : sequence of ObservationSpec
        The observations; ids must be unique.
    instrument : Instrument
        IRFs of every observation.
    models : Models or SkyModel, optional
        Sky models (and optionally a FoVBackgroundModel scaling the background).
    seed : int
        Master seed.
    irf : {"shared", "embed", "reference"}
        IRF layout, see :class:`IRFLayout`.
    config : SamplingConfig, optional
        Sampling grids.
    true_columns : bool
        Also write ``ENERGY_TRUE``, ``RA_TRUE``, ``DEC_TRUE``.
    compresslevel : int
        gzip level of the files (1 fast ... 9 small).
    overwrite : bool
        Replace an archive already in ``path``.
    client : distributed.Client, optional
        Compute there instead of on the current dask scheduler.
    progress : bool
        Show a progress bar (local schedulers).

    Returns
    -------
    ArchiveResult
    """
    t0 = time.perf_counter()
    ids = [s.obs_id for s in observations]
    if len(set(ids)) != len(ids):
        raise ConfigError("observation ids must be unique")
    root = Path(path)
    _prepare_root(root, overwrite)
    layout = _layout(instrument, root, irf)
    if layout.mode == "shared":
        (root / "irf").mkdir(exist_ok=True)
        instrument.write(root / layout.file_dir / layout.file_name, overwrite=True)
    cfg = config or SamplingConfig()
    graph = _build_graph(
        root, observations, instrument, models, seed, layout, cfg, true_columns, compresslevel
    )
    with _progress(progress, client):
        if client is not None:
            summaries = client.gather(client.compute(graph))
        else:
            (summaries,) = dask.compute(graph)
    table = pd.DataFrame(
        [
            {
                "obs_id": s["spec"].obs_id,
                "file": f"data/{s['file_name']}",
                "size": s["size"],
                "n_events": s["n_events"],
                "n_background": s["n_background"],
                "npred": s["npred"],
                "n_sources": s["n_sources"],
                "seconds": s["seconds"],
            }
            for s in summaries
        ]
    )
    return ArchiveResult(root, table, time.perf_counter() - t0, len(graph.dask))


def _key(obj: Any, name: str):
    """``obj`` as one graph key, so that tasks refer to it instead of carrying a copy."""
    return dask.delayed(obj, name=name, traverse=False)


def _build_graph(
    root, observations, instrument, models, seed, layout, cfg, true_columns, compresslevel
):
    # Every input shared by several tasks is a key of its own: a worker then holds one
    # copy, instead of one per task specification (which it keeps until the end).
    sky, bkg_model = split_models(models)
    token = instrument.token[:16]
    telescope = str(instrument.aeff.attrs.get("TELESCOP", "GAMMAX-SIM"))
    tables = dask.delayed(build_tables, pure=True)(
        _key(instrument, f"simulate-instrument-{token}"),
        cfg,
        dask_key_name=f"simulate-tables-{token}",
    )
    stubs = [source_stub(m, i, cfg) for i, m in sky]
    visible = _visibility(stubs, observations, instrument, cfg)
    seen = visible.any(axis=0)
    prepared: list[Any] = [
        dask.delayed(pixelise, pure=True)(s, cfg, dask_key_name=f"simulate-source-{s.index}")
        if s.kind == "extended"
        else _key(s, f"simulate-source-{s.index}")
        if seen[k]
        else None
        for k, s in enumerate(stubs)
    ]
    background = None if bkg_model is None else _key(bkg_model, "simulate-background-model")
    embed = _key(instrument, f"simulate-instrument-{token}") if layout.mode == "embed" else None
    tasks = [
        dask.delayed(_simulate_one, pure=True)(
            spec,
            tables,
            [prepared[k] for k in np.flatnonzero(visible[i])],
            background,
            int(seed),
            str(root),
            embed,
            true_columns,
            compresslevel,
            telescope,
            dask_key_name=f"simulate-obs-{spec.obs_id}",
        )
        for i, spec in enumerate(observations)
    ]
    return dask.delayed(_write_index, pure=True)(
        str(root),
        layout,
        telescope,
        *tasks,
        dask_key_name="simulate-index",
    )


def _visibility(stubs: list[SourceSampler], observations, instrument, cfg) -> np.ndarray:
    """Boolean (observation, source) matrix: whether the source can give events there."""
    if not stubs:
        return np.zeros((len(observations), 0), dtype=bool)
    from ._sphere import separation

    offset_max = cfg.offset_max if cfg.offset_max is not None else instrument.offset_max
    ra = np.array([s.ra for s in stubs])
    dec = np.array([s.dec for s in stubs])
    radius = np.array([s.radius for s in stubs])
    diffuse = np.array([s.kind == "diffuse" for s in stubs])
    ra_p = np.array([o.ra_pnt for o in observations])[:, None]
    dec_p = np.array([o.dec_pnt for o in observations])[:, None]
    with np.errstate(invalid="ignore"):
        near = separation(ra[None], dec[None], ra_p, dec_p) <= offset_max + radius[None]
    return near | diffuse[None]

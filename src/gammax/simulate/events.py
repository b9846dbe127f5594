r"""The event sampler: DL3 events of one observation from sky models, IRFs and background.

For each sky model visible from the pointing:

1. the expected counts per (true-energy bin, offset node) are
   :math:`\mu = t_{live}\, \bar n_t \int \phi(E) A(E, \theta) dE \cdot W(\theta)`:
   the spectrum times the effective area, integrated over each fine energy bin
   as a power law between the bin edges, times the fraction :math:`W` of the
   model at that offset (pixel fractions split linearly between offset nodes)
   and the mean temporal norm :math:`\bar n_t` over the GTIs;
2. the number of events is Poisson(:math:`\sum\mu`); each event gets a cell
   by inverse CDF over :math:`\mu`, a true energy within its bin from the power
   law through the bin-edge values, and a position: the source position for a
   point source, else a pixel drawn with its fraction at that offset node and a
   uniform position within it;
3. the PSF moves the position by a radius drawn from the containment curve and
   a uniform position angle; the dispersion scales the energy by a migration
   drawn from its cumulative distribution;
4. times are uniform within the GTIs (or follow the temporal model).

Background events are drawn from the background IRF cells in FoV coordinates
(optionally scaled by a :class:`~gammax.models.FoVBackgroundModel` norm at the
cell energies), uniformly in solid angle within a cell, as a power law in energy
within a bin, and converted to RA/Dec; their times are uniform within the GTIs.

Random numbers come from one :class:`numpy.random.Generator` per component,
seeded by ``SeedSequence(seed, spawn_key=(obs_id, k))`` with ``k = 0`` for the
background and ``k = MC_ID`` for a sky model: results depend only on the seed,
the observation and the inputs, not on the scheduler or on other components.

Examples
--------
>>> from gammax.models import PointSpatialModel, PowerLawSpectralModel, SkyModel
>>> from gammax.simulate import Instrument, ObservationSpec, build_tables
>>> tables = build_tables(Instrument.analytic())
>>> crab = SkyModel(PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1"),
...                 PointSpatialModel(lon_0="83.63 deg", lat_0="22.51 deg"), name="crab")
>>> spec = ObservationSpec(1, 83.63, 22.01, tstart=0.0, ontime=600.0)
>>> events = sample_events(spec, tables, [crab], seed=1)
>>> sorted(events.data_vars)
['DEC', 'ENERGY', 'MC_ID', 'RA', 'TIME']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property, lru_cache

import numpy as np
import xarray as xr

from .. import dims as D
from ..models import FoVBackgroundModel, Models, SkyModel
from ..units import parse_unit
from ._sphere import destination, fov_to_sky, power_law_sample, separation
from .observation import ObservationSpec
from .sources import SourceSampler, diffuse_pixels, pixelise, source_stub, split_models
from .tables import SamplingTables, _loglog

__all__ = ["component_rng", "sample_events"]


def component_rng(seed: int, obs_id: int, component: int) -> np.random.Generator:
    """The random generator of one component (0: background, ``MC_ID``: a source)."""
    return np.random.default_rng(
        np.random.SeedSequence(int(seed), spawn_key=(int(obs_id), int(component)))
    )


class _Keys:
    """Row-offset search keys of a stack of CDFs (``cdf + 2 * row``), built once."""

    def __init__(self, cdf: np.ndarray) -> None:
        self.n_x = cdf.shape[-1]
        rows = cdf.reshape(-1, self.n_x)
        self.cdf = rows
        self.keys = (rows + 2.0 * np.arange(rows.shape[0])[:, None]).ravel()

    def draw(self, rows: np.ndarray, grid: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Invert the piecewise-linear CDFs of ``rows`` at ``u`` onto ``grid``."""
        idx = np.searchsorted(self.keys, 2.0 * rows + u, side="right")
        j = np.clip(idx - rows * self.n_x, 1, self.n_x - 1)
        c0 = self.cdf[rows, j - 1]
        c1 = self.cdf[rows, j]
        w = np.divide(u - c0, c1 - c0, out=np.zeros_like(u), where=c1 > c0)
        return grid[j - 1] + np.clip(w, 0.0, 1.0) * (grid[j] - grid[j - 1])


class _Tables:
    """Per-process helpers derived from :class:`SamplingTables` (search keys)."""

    def __init__(self, tables: SamplingTables) -> None:
        self.t = tables

    @cached_property
    def psf(self) -> _Keys:
        return _Keys(self.t.psf_cdf)

    @cached_property
    def edisp(self) -> _Keys:
        return _Keys(self.t.edisp_cdf)


def _pick(x: np.ndarray, nodes: np.ndarray, rng: np.random.Generator, log: bool) -> np.ndarray:
    """Node index per value, the upper neighbour with its linear-interpolation weight."""
    if nodes.size == 1:
        return np.zeros(x.shape, dtype=np.intp)
    xs, ns = (np.log(x), np.log(nodes)) if log else (x, nodes)
    i = np.clip(np.searchsorted(ns, xs, side="right") - 1, 0, nodes.size - 2)
    w = np.clip((xs - ns[i]) / (ns[i + 1] - ns[i]), 0.0, 1.0)
    return i + (rng.random(x.shape) < w)


def _gti_times(spec: ObservationSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    starts = np.array([a for a, _ in spec.gti])
    lengths = np.array([b - a for a, b in spec.gti])
    cum = np.cumsum(lengths)
    u = rng.random(n) * cum[-1]
    k = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
    return starts[k] + (u - (cum[k] - lengths[k]))


def _temporal(model: SkyModel, spec: ObservationSpec, n_grid: int = 2000):
    """Mean norm over the GTIs and the (time grid, CDF) to draw times, or None."""
    if model.temporal_model is None:
        return 1.0, None
    pieces = [np.linspace(a, b, max(2, int(n_grid * (b - a) / spec.ontime))) for a, b in spec.gti]
    grid = np.concatenate(pieces)
    label = np.repeat(np.arange(len(pieces)), [p.size for p in pieces])
    attrs = {
        "units": "s",
        "mjdref": spec.mjdref[0] + spec.mjdref[1],
        "timesys": spec.timesys.lower(),
    }
    norm = model.temporal_model(
        xr.DataArray(grid, dims=D.TIME, attrs=attrs), prefix=model.component_prefix("temporal")
    )
    norm = np.clip(np.asarray(norm.values, float), 0.0, None)
    seg = 0.5 * (norm[1:] + norm[:-1]) * np.diff(grid)
    seg[label[1:] != label[:-1]] = 0.0  # gaps between GTIs
    cdf = np.concatenate([[0.0], np.cumsum(seg)])
    return (cdf[-1] / spec.ontime if spec.ontime > 0 else 0.0), (grid, cdf)


def _times(spec, n, rng, temporal) -> np.ndarray:
    if temporal is None or temporal[1][-1] <= 0:
        return _gti_times(spec, n, rng)
    grid, cdf = temporal
    u = rng.random(n) * cdf[-1]
    k = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, cdf.size - 2)
    width = cdf[k + 1] - cdf[k]
    w = np.divide(u - cdf[k], width, out=np.zeros_like(u), where=width > 0)
    return grid[k] + np.clip(w, 0.0, 1.0) * (grid[k + 1] - grid[k])


@lru_cache(maxsize=64)
def _to_flux_unit(unit: str) -> float:
    return float(parse_unit(unit).to("m-2 s-1 TeV-1"))


def _dnde(model: SkyModel, energy: np.ndarray) -> np.ndarray:
    """Differential flux in m-2 s-1 TeV-1 at energies in TeV."""
    values = model.spectral_model(
        xr.DataArray(energy, dims=D.ENERGY_TRUE, attrs={"units": "TeV"}),
        prefix=model.component_prefix("spectral"),
    )
    return np.asarray(values.values, float) * _to_flux_unit(str(values.attrs["units"]))


def _source_events(
    src: SourceSampler, spec: ObservationSpec, tables: SamplingTables, rng: np.random.Generator
) -> tuple[dict, float]:
    """True energies, positions and times of one source's events, and the expected count."""
    nodes = tables.offset_nodes
    step = nodes[1] - nodes[0]
    if src.kind == "point":
        ra_p, dec_p, w_p = np.array([src.ra]), np.array([src.dec]), np.array([1.0])
    else:
        ra_p, dec_p, w_p = src.pix_ra, src.pix_dec, src.weights
    pos = separation(ra_p, dec_p, *spec.pointing) / step
    j = np.floor(pos).astype(np.intp)
    inside = np.flatnonzero(j < nodes.size - 1)
    f = pos[inside] - j[inside]
    entry_node = np.concatenate([j[inside], j[inside] + 1])
    entry_pix = np.concatenate([inside, inside])
    entry_w = np.concatenate([w_p[inside] * (1 - f), w_p[inside] * f])
    weight = np.bincount(entry_node, weights=entry_w, minlength=nodes.size)
    used = np.flatnonzero(weight > 0)
    mean_norm, temporal = _temporal(src.model, spec)
    energy = tables.energy_edges
    g = _dnde(src.model, energy)[:, None] * tables.aeff[:, used]
    mu = _loglog(g, energy) * (weight[used] * spec.livetime * mean_norm)[None, :]
    expected = float(mu.sum())
    n = int(rng.poisson(expected)) if expected > 0 else 0
    if n == 0:
        return _empty(), expected
    cum = np.cumsum(mu.ravel())
    cell = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), cum.size - 1)
    ie, ju = np.divmod(cell, used.size)
    e_true = power_law_sample(energy[ie], energy[ie + 1], g[ie, ju], g[ie + 1, ju], rng.random(n))
    if src.kind == "point":
        ra, dec = np.full(n, src.ra), np.full(n, src.dec)
    else:
        ra, dec = _pixel_draw(src, entry_node, entry_pix, entry_w, weight, used[ju], rng)
    return {
        "ENERGY_TRUE": e_true,
        "RA_TRUE": ra,
        "DEC_TRUE": dec,
        "TIME": _times(spec, n, rng, temporal),
    }, expected


def _pixel_draw(src, entry_node, entry_pix, entry_w, weight, event_node, rng):
    order = np.argsort(entry_node, kind="stable")
    node, pix, w = entry_node[order], entry_pix[order], entry_w[order]
    cum = np.cumsum(w)
    first = np.searchsorted(node, node, side="left")
    base = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (cum - base) / weight[node]
    last = np.append(node[1:] != node[:-1], True)
    frac = np.where(last, 1.0, np.clip(frac, 0.0, 1.0))
    keys = node + frac
    u = np.minimum(rng.random(event_node.size), 1.0 - 1e-12)
    k = np.minimum(np.searchsorted(keys, event_node + u, side="right"), keys.size - 1)
    return src.pixel_positions(src.pixels[pix[k]], rng)


def _empty() -> dict:
    return {k: np.zeros(0) for k in ("ENERGY_TRUE", "RA_TRUE", "DEC_TRUE", "TIME")}


def _smear(ev: dict, spec: ObservationSpec, helper: _Tables, rng: np.random.Generator) -> dict:
    """Apply PSF and energy dispersion; drop events without a migration probability."""
    t = helper.t
    n = ev["ENERGY_TRUE"].size
    offset = separation(ev["RA_TRUE"], ev["DEC_TRUE"], *spec.pointing)
    e = ev["ENERGY_TRUE"]
    row = _pick(e, t.psf_energy, rng, True) * t.psf_offset.size + _pick(
        offset, t.psf_offset, rng, False
    )
    rad = helper.psf.draw(row, t.rad, rng.random(n))
    ra, dec = destination(ev["RA_TRUE"], ev["DEC_TRUE"], rad, rng.uniform(0.0, 360.0, n))
    ie = _pick(e, t.edisp_energy, rng, True)
    io = _pick(offset, t.edisp_offset, rng, False)
    row = ie * t.edisp_offset.size + io
    migra = helper.edisp.draw(row, t.migra_edges, rng.random(n))
    energy = migra * e
    keep = t.edisp_valid[ie, io] & (energy > 0)
    out = {"RA": ra, "DEC": dec, "ENERGY": energy, **ev}
    return {k: v[keep] for k, v in out.items()}


def _background_events(spec, tables: SamplingTables, bkg_model, rng) -> tuple[dict, float]:
    cells = tables.bkg_cells
    e_edges = tables.bkg_energy_edges
    if bkg_model is not None:
        centers = np.sqrt(e_edges[1:] * e_edges[:-1])
        norm = bkg_model.spectral_model(
            xr.DataArray(centers, dims=D.ENERGY, attrs={"units": "TeV"}),
            prefix=bkg_model.component_prefix("spectral"),
        )
        cells = cells * np.clip(np.asarray(norm.values, float), 0.0, None)[:, None, None]
    # GADF: the background rate is per observation time (ONTIME), not per live time;
    # Gammapy's MapDatasetMaker and gammax.reduce predict it with ONTIME
    expected = float(cells.sum()) * spec.ontime
    n = int(rng.poisson(expected)) if expected > 0 else 0
    if n == 0:
        return {k: np.zeros(0) for k in ("RA", "DEC", "ENERGY", "TIME")}, expected
    cum = np.cumsum(cells.ravel())
    cell = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), cum.size - 1)
    ie, il, ib = np.unravel_index(cell, cells.shape)
    lon_e, lat_e = tables.fov_edges
    u = rng.random((3, n))
    lon = lon_e[il] + u[0] * (lon_e[il + 1] - lon_e[il])
    s_lo, s_hi = np.sin(np.radians(lat_e[ib])), np.sin(np.radians(lat_e[ib + 1]))
    lat = np.degrees(np.arcsin(np.clip(s_lo + u[1] * (s_hi - s_lo), -1.0, 1.0)))
    rate = tables.bkg_edge_rate
    energy = power_law_sample(
        e_edges[ie], e_edges[ie + 1], rate[ie, il, ib], rate[ie + 1, il, ib], u[2]
    )
    ra, dec = fov_to_sky(lon, lat, *spec.pointing, reverse_lon=tables.reverse_lon)
    return {"RA": ra, "DEC": dec, "ENERGY": energy, "TIME": _gti_times(spec, n, rng)}, expected


def sample_events(
    spec: ObservationSpec,
    tables: SamplingTables,
    models: Models | Sequence[SkyModel | SourceSampler] | None = None,
    *,
    seed: int = 0,
    background: bool = True,
    true_columns: bool = False,
) -> xr.Dataset:
    """Draw the DL3 events of one observation.

    Parameters
    ----------
    spec : ObservationSpec
        Pointing, GTIs, live time.
    tables : SamplingTables
        The instrument on sampling grids (:func:`~gammax.simulate.build_tables`).
    models : Models or sequence of SkyModel / SourceSampler, optional
        Sky models (and at most one :class:`~gammax.models.FoVBackgroundModel`,
        whose norm scales the background); prepared samplers from
        :func:`~gammax.simulate.build_source_sampler` skip the preparation.
    seed : int
        Master seed (see the module docstring).
    background : bool
        Add background events (needs a background IRF).
    true_columns : bool
        Add ``ENERGY_TRUE``, ``RA_TRUE`` and ``DEC_TRUE`` (NaN for background).

    Returns
    -------
    xarray.Dataset
        Dim ``event``, sorted by ``TIME``: ``TIME`` (s since the epoch), ``RA``,
        ``DEC`` (deg), ``ENERGY`` (TeV), ``MC_ID`` (0 background, ``i + 1`` the
        i-th model). ``attrs``: ``npred`` (expected counts per component),
        ``mc_names`` (``MC_ID`` -> name).
    """
    samplers, bkg_model = _samplers(models, tables)
    helper = _Tables(tables)
    parts, npred, names = [], {}, {}
    for src in samplers:
        if not src.is_visible(*spec.pointing, tables.offset_max):
            continue
        if src.kind == "diffuse" and src.pixels is None:
            src = diffuse_pixels(src, spec.pointing, tables.offset_max, tables.config)
        elif src.kind == "extended":
            src = pixelise(src, tables.config)
        rng = component_rng(seed, spec.obs_id, src.mc_id)
        ev, expected = _source_events(src, spec, tables, rng)
        ev = _smear(ev, spec, helper, rng)
        ev["MC_ID"] = np.full(ev["TIME"].size, src.mc_id, dtype=np.int32)
        parts.append(ev)
        npred[src.name] = expected
        names[src.mc_id] = src.name
    if background and tables.bkg_cells is not None:
        ev, expected = _background_events(
            spec, tables, bkg_model, component_rng(seed, spec.obs_id, 0)
        )
        ev["MC_ID"] = np.zeros(ev["TIME"].size, dtype=np.int32)
        names[0] = "background"
        for key in ("ENERGY_TRUE", "RA_TRUE", "DEC_TRUE"):
            ev[key] = np.full(ev["TIME"].size, np.nan)
        parts.append(ev)
        npred["background"] = expected
    return _assemble(parts, names, npred, true_columns)


def _samplers(models, tables: SamplingTables):
    if models is None:
        return [], None
    if (
        isinstance(models, Sequence)
        and not isinstance(models, Models)
        and any(isinstance(m, SourceSampler) for m in models)
    ):
        samplers = [m for m in models if isinstance(m, SourceSampler)]
        bkg = next((m for m in models if isinstance(m, FoVBackgroundModel)), None)
        return samplers, bkg
    sky, bkg = split_models(Models(list(models)) if not isinstance(models, Models) else models)
    return [source_stub(m, i, tables.config) for i, m in sky], bkg


_COLUMNS = ("TIME", "RA", "DEC", "ENERGY", "MC_ID")
_TRUE = ("ENERGY_TRUE", "RA_TRUE", "DEC_TRUE")
_UNITS = {
    "TIME": "s",
    "RA": "deg",
    "DEC": "deg",
    "ENERGY": "TeV",
    "MC_ID": "",
    "ENERGY_TRUE": "TeV",
    "RA_TRUE": "deg",
    "DEC_TRUE": "deg",
}


def _assemble(parts, names, npred, true_columns) -> xr.Dataset:
    keys = _COLUMNS + (_TRUE if true_columns else ())
    data = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in keys}
    data["MC_ID"] = data["MC_ID"].astype(np.int32)
    order = np.argsort(data["TIME"], kind="stable")
    ds = xr.Dataset({k: (D.EVENT, v[order], {"units": _UNITS[k]}) for k, v in data.items()})
    ds.attrs = {"npred": npred, "mc_names": names}
    return ds

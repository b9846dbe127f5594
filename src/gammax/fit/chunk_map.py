r"""A compiled block of a map dataset: numpy arrays held in memory, a fast ``stat(values)``.

A :class:`MapChunk` is a block of reconstructed-energy bins and sky rows /
columns of one map dataset, with everything the statistic needs precomputed
once (when the chunk is built, on the worker that keeps it):

- the counts as a sparse list of non-zero bins inside the fit mask;
- the background (masked) per energy and at those bins;
- per sky model, a *box* of pixels around its position at build time (the
  PSF kernel radius plus the model's evaluation radius plus a 0.1 deg margin,
  Gammapy's cutout rule), the exposure on the box padded by the kernel radius,
  the PSF kernel and the edisp matrix at that position;
- the predicted counts of the sky models without a free parameter (fixed
  neighbours, a frozen diffuse model): evaluated once at build time and kept
  as one constant array, so a fixed source costs neither kernels nor time per
  evaluation;
- for a sky model whose only free parameter is one its prediction is
  proportional to (the spectral model's ``linear_parameter``, e.g. the norm of
  a flux-point fit), the prediction at value 1, scaled per evaluation.

Per evaluation only the parameter values are needed: the spectral integral
over true-energy bins, times exposure, PSF (a point source is four stamped
kernels with bilinear weights; an extended source is FFT-convolved with
precomputed kernel transforms), edisp (a matrix product), and the Cash sum

.. math:: C = 2 \\Big(\\sum_{\\rm mask} \\mu - \\sum_{n > 0} n \\log \\mu\\Big),

whose first term is ``norm_E . background_E`` plus the sum over each box.
This equals Gammapy's ``cash`` summed bin by bin (truncation at 1e-25
applied to bins with counts; zero-count bins with ``mu < 1e-25`` contribute
``mu`` instead of 1e-25).

On/off map chunks evaluate WStat densely on their block.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import dims as D
from ..datasets import diagonal_edisp, energy_axis, fit_mask
from ..errors import ConfigError
from . import _modelkit as mk
from .kernels import IrfArrays, edisp_kernel, psf_kernel
from .stats import TRUNCATION_VALUE, wstat

__all__ = ["CUTOUT_MARGIN", "MapChunk", "build_map_chunk"]

#: Margin (deg) added around a model's evaluation radius (Gammapy's ``CUTOUT_MARGIN``).
CUTOUT_MARGIN = 0.1


@dataclass
class _Source:
    """A sky model's precomputed geometry and IRFs inside one chunk."""

    model: Any
    point: bool
    anchor: tuple[float, float]  # pixel coordinates (x, y) at build time
    reach: float  # allowed drift + evaluation radius (deg)
    box: tuple[int, int, int, int]  # y0, y1, x0, x1 (full-map pixels), inside the chunk
    ext: tuple[int, int, int, int]  # the model's support (anchor +- reach), clipped to the map
    exposure: np.ndarray  # (e_true, ext rows, ext cols), cm2 s (or 1 without exposure)
    kernel: np.ndarray  # (e_true, n, n)
    edisp_t: np.ndarray  # (e_reco_chunk, e_true)
    mask: np.ndarray  # (e_reco_chunk, box rows, box cols) float
    nz_box: np.ndarray  # flat indices into the box cube of the chunk's non-zero bins ...
    nz_sel: np.ndarray  # ... and their positions in the chunk's non-zero list
    ext_geom: Any = None
    kernel_fft: Any = None
    fft_shape: tuple[int, int] = (0, 0)
    fast: Any = None
    work: dict | None = None


@dataclass
class _Context:
    """What building a source term needs (kept to rebuild terms for sources out of reach)."""

    geom: Any  # full image geometry
    region: tuple[slice, slice, slice]
    irf: IrfArrays | None
    exposure: np.ndarray  # full map, cm2 s
    mask: np.ndarray  # chunk block
    nz_flat: np.ndarray
    edisp_matrix: bool
    diagonal: np.ndarray


@dataclass
class _Anchor:
    """A sky model, where its terms were built, and its term in this chunk (None: outside)."""

    model: Any
    px: float
    py: float
    reach: float
    term: _Source | None

    def within(self, geom: Any, values) -> bool:
        """Whether the model at ``values`` is still covered by the anchored term."""
        lon, lat, frame = mk.position_deg(self.model, values)
        px, py = _pixel(geom, lon, lat, frame)
        drift = math.hypot(px - self.px, py - self.py) * float(np.max(geom.pixel_scales))
        radius = self.model.spatial_model.evaluation_radius(
            values, self.model.component_prefix("spatial")
        )
        return drift + (radius or 0.0) <= self.reach


@dataclass
class MapChunk:
    """A block of a map dataset, compiled for fast statistic evaluation (numpy).

    Use :func:`build_map_chunk`. ``stat(values)`` returns this block's
    contribution to ``-2 log L``.
    """

    name: str
    kind: str
    geom: Any  # full image geometry of the dataset
    region: tuple[slice, slice, slice]  # energy, y, x (full-map indices)
    e_true: tuple[np.ndarray, np.ndarray, str]
    e_reco: tuple[np.ndarray, str]
    anchors: list[_Anchor]
    context: _Context
    bkg_model: Any
    bkg_sum: np.ndarray  # (e,) masked background per energy
    nz_counts: np.ndarray
    nz_e: np.ndarray
    nz_bkg: np.ndarray
    fixed_sum: float = 0.0  # masked predicted counts of the constant (frozen) sky models
    nz_fixed: np.ndarray | None = None  # ... and at the non-zero bins
    linear: list[tuple[str, float, np.ndarray]] = field(default_factory=list)
    # (key, masked sum, values at the non-zero bins) of the templates scaled by a parameter
    onoff: dict[str, np.ndarray] | None = None
    cost: float = 0.0
    extra: dict = field(default_factory=dict)

    # -- evaluation --------------------------------------------------------------------
    def _norm(self, values) -> np.ndarray:
        if self.bkg_model is None:
            return np.ones(self.bkg_sum.shape)
        if "bkg_fast" not in self.extra:
            self.extra["bkg_fast"] = mk.FastSpectral(
                self.bkg_model.spectral_model,
                self.bkg_model.component_prefix("spectral"),
                self.e_reco[1],
            )
        return self.extra["bkg_fast"](self.e_reco[0], values)

    def _source_npred(self, src: _Source, values) -> np.ndarray:
        """Predicted counts of one source on its box, ``(e_reco_chunk, rows, cols)``."""
        model = src.model
        lo, hi, unit = self.e_true
        if src.fast is None:
            target = "cm-2 s-1" if model.apply_irf.get("exposure", True) else ""
            src.fast = mk.FastSpectral(
                model.spectral_model, model.component_prefix("spectral"), unit, target
            )
        flux = src.fast.integral(lo, hi, values)
        y0, y1, x0, x1 = src.box
        ey0, ey1, ex0, ex1 = src.ext
        h = src.kernel.shape[-1] // 2
        if src.work is None:
            # scratch arrays reused across evaluations: large temporaries are costly where
            # malloc returns freed memory to the system (dask workers set MALLOC_TRIM_*)
            n_reco = src.edisp_t.shape[0]
            src.work = {
                "true": np.empty((flux.size, y1 - y0, x1 - x0)),
                "stamp": np.empty(src.kernel.shape),
                "out": np.empty((n_reco, (y1 - y0) * (x1 - x0))),
            }
        work = src.work
        if src.point:
            true = work["true"]
            true.fill(0.0)
            lon, lat, frame = mk.position_deg(model, values)
            px, py = _pixel(self.geom, lon, lat, frame)
            ix, iy = math.floor(px), math.floor(py)
            for ky, wy in ((iy, 1 - (py - iy)), (iy + 1, py - iy)):
                for kx, wx in ((ix, 1 - (px - ix)), (ix + 1, px - ix)):
                    w = wx * wy
                    if w <= 0 or not (ey0 <= ky < ey1 and ex0 <= kx < ex1):
                        continue
                    a = flux * w * src.exposure[:, ky - ey0, kx - ex0]
                    ya, yb = max(y0, ky - h), min(y1, ky + h + 1)
                    xa, xb = max(x0, kx - h), min(x1, kx + h + 1)
                    if ya >= yb or xa >= xb:
                        continue
                    k = src.kernel[:, ya - ky + h : yb - ky + h, xa - kx + h : xb - kx + h]
                    stamp = work["stamp"][:, : yb - ya, : xb - xa]
                    np.multiply(k, a[:, None, None], out=stamp)
                    true[:, ya - y0 : yb - y0, xa - x0 : xb - x0] += stamp
        else:
            frac = model.spatial_model.integrate_geom(
                src.ext_geom, values=values, prefix=model.component_prefix("spatial")
            ).values
            if frac.ndim == 2:
                frac = frac[None]
            ext_true = flux[:, None, None] * frac * src.exposure
            true = np.ascontiguousarray(_fft_box(ext_true, src, h))
        out = np.matmul(src.edisp_t, true.reshape(true.shape[0], -1), out=work["out"])
        return out.reshape(-1, y1 - y0, x1 - x0)

    def in_reach(self, values) -> bool:
        """Whether every source is still within its box's margin at ``values``."""
        return all(a.within(self.geom, values) for a in self.anchors)

    @property
    def sources(self) -> list[_Source]:
        """The anchored source terms that touch this chunk."""
        return [a.term for a in self.anchors if a.term is not None]

    def _terms(self, values):
        """Source terms at ``values``: anchored ones, or rebuilt here for sources out of reach.

        A rebuilt term (kernels at the current position) is used for this
        evaluation only, so the statistic stays a function of ``values`` alone.
        """
        for a in self.anchors:
            if a.within(self.geom, values):
                term = a.term
            else:
                term = _source(self.context, a.model, values)[1]
            if term is not None:
                yield term

    def stat(self, values) -> float:
        """Contribution of the block to ``-2 log L`` at ``values`` ({key: value})."""
        if self.onoff is not None:
            return self._stat_onoff(values)
        norm = self._norm(values)
        total = float(norm @ self.bkg_sum) + self.fixed_sum
        mu_nz = self.nz_bkg * norm[self.nz_e]
        if self.nz_fixed is not None:
            mu_nz += self.nz_fixed
        for key, masked_sum, nz_template in self.linear:
            total += values[key] * masked_sum
            mu_nz += values[key] * nz_template
        for src in self._terms(values):
            s = self._source_npred(src, values)
            total += float(np.einsum("ijk,ijk->", s, src.mask))
            if src.nz_sel.size:
                mu_nz[src.nz_sel] += s.ravel()[src.nz_box]
        clipped = np.maximum(mu_nz, TRUNCATION_VALUE)
        total += float(np.sum(clipped - mu_nz))
        return 2.0 * (total - float(self.nz_counts @ np.log(clipped)))

    def _stat_onoff(self, values) -> float:
        d = self.onoff
        mu = self._dense_linear(values)
        _, ys, xs = self.region
        for src in self._terms(values):
            y0, y1, x0, x1 = src.box
            mu[:, y0 - ys.start : y1 - ys.start, x0 - xs.start : x1 - xs.start] += (
                self._source_npred(src, values)
            )
        stat = wstat(d["n_on"], d["n_off"], d["alpha"], mu)
        return float(np.sum(stat[d["mask"]]))

    def _dense_linear(self, values) -> np.ndarray:
        """The constant and the scaled template predictions on the block (dense)."""
        fixed = self.extra.get("fixed")
        out = np.zeros(self.extra["background"].shape) if fixed is None else fixed.copy()
        for key, template in self.extra.get("linear", []):
            out += values[key] * template
        return out

    def npred(self, values) -> np.ndarray:
        """Predicted counts on the block (dense; for checks)."""
        _, ys, xs = self.region
        norm = self._norm(values)
        out = self.extra["background"] * norm[:, None, None] + self._dense_linear(values)
        for src in self._terms(values):
            y0, y1, x0, x1 = src.box
            out[:, y0 - ys.start : y1 - ys.start, x0 - xs.start : x1 - xs.start] += (
                self._source_npred(src, values)
            )
        return out


def _fft_box(ext_true: np.ndarray, src: _Source, h: int) -> np.ndarray:
    """Full linear convolution of the support with the kernels, cropped to the box."""
    from scipy import fft

    shape = src.fft_shape
    full = fft.irfft2(
        fft.rfft2(ext_true, s=shape, axes=(1, 2)) * src.kernel_fft, s=shape, axes=(1, 2)
    )
    y0, y1, x0, x1 = src.box
    ey0, _, ex0, _ = src.ext
    return full[:, y0 - ey0 + h : y1 - ey0 + h, x0 - ex0 + h : x1 - ex0 + h]


def _pixel(geom, lon: float, lat: float, frame: str) -> tuple[float, float]:
    from ..geom.sky import convert_frame

    if frame != geom.frame:
        lon_a, lat_a = convert_frame([lon], [lat], frame, geom.frame)
        lon, lat = float(lon_a[0]), float(lat_a[0])
    px, py = geom.world_to_pix(np.array([lon]), np.array([lat]), geom.frame)
    return float(np.ravel(px)[0]), float(np.ravel(py)[0])


def _source(ctx: _Context, model: Any, values) -> tuple[_Anchor, _Source | None]:
    """The anchor of a sky model at ``values`` and its term in the chunk (None if outside)."""
    from ..models import PointSpatialModel

    geom, irf, (es, ys, xs) = ctx.geom, ctx.irf, ctx.region
    binsz = float(np.max(geom.pixel_scales))
    lon, lat, frame = mk.position_deg(model, values)
    px, py = _pixel(geom, lon, lat, frame)
    radius = model.spatial_model.evaluation_radius(values, model.component_prefix("spatial"))
    if radius is None:
        raise ConfigError(
            f"model {model.name!r}: {type(model.spatial_model).__name__} has no evaluation "
            "radius; the compiled likelihood needs bounded models"
        )
    reach = radius + CUTOUT_MARGIN
    anchor = _Anchor(model, px, py, reach, None)
    use_psf = irf is not None and irf.psf is not None and model.apply_irf.get("psf", True)
    n_true = ctx.exposure.shape[0]
    h_max = 0
    if use_psf:
        h_max = math.ceil(irf.rad_edges[-1] / binsz) + 1
    half_max = h_max + reach / binsz
    ny, nx = geom.npix[1], geom.npix[0]
    if (
        py + half_max + 1 < ys.start
        or py - half_max - 1 > ys.stop
        or px + half_max + 1 < xs.start
        or px - half_max - 1 > xs.stop
    ):
        return anchor, None  # cannot reach this chunk: skip the kernel
    kernel = psf_kernel(irf, geom, lon, lat, frame) if use_psf else np.ones((1, 1, 1))
    if kernel.shape[0] == 1 and n_true > 1:
        kernel = np.broadcast_to(kernel, (n_true, *kernel.shape[1:]))
    h = kernel.shape[-1] // 2
    half = h + reach / binsz
    by0, by1 = max(math.floor(py - half), ys.start), min(math.ceil(py + half) + 1, ys.stop)
    bx0, bx1 = max(math.floor(px - half), xs.start), min(math.ceil(px + half) + 1, xs.stop)
    if by0 >= by1 or bx0 >= bx1:
        return anchor, None
    # the support: where the model has flux while it stays within reach of the anchor
    sup = reach / binsz + 1
    ext = (
        max(math.floor(py - sup), 0),
        min(math.ceil(py + sup) + 1, ny),
        max(math.floor(px - sup), 0),
        min(math.ceil(px + sup) + 1, nx),
    )
    ey0, ey1, ex0, ex1 = ext
    if ey0 >= ey1 or ex0 >= ex1:
        return anchor, None
    if model.apply_irf.get("exposure", True):
        expo = ctx.exposure[:, ey0:ey1, ex0:ex1]
    else:
        expo = np.ones((n_true, ey1 - ey0, ex1 - ex0))
    if ctx.edisp_matrix and model.apply_irf.get("edisp", True):
        matrix = edisp_kernel(irf, lon, lat, frame)
    else:
        matrix = ctx.diagonal
    edisp_t = np.ascontiguousarray(matrix[:, es].T)
    mask = ctx.mask
    m = mask[:, by0 - ys.start : by1 - ys.start, bx0 - xs.start : bx1 - xs.start]
    shape_box = (m.shape[0], by1 - by0, bx1 - bx0)
    # the chunk's non-zero bins inside the box
    e_i, y_i, x_i = np.unravel_index(ctx.nz_flat, mask.shape)
    y_full, x_full = y_i + ys.start, x_i + xs.start
    inside = (y_full >= by0) & (y_full < by1) & (x_full >= bx0) & (x_full < bx1)
    nz_sel = np.nonzero(inside)[0]
    nz_box = np.ravel_multi_index(
        (e_i[inside], y_full[inside] - by0, x_full[inside] - bx0), shape_box
    )
    src = _Source(
        model=model,
        point=isinstance(model.spatial_model, PointSpatialModel),
        anchor=(px, py),
        reach=reach,
        box=(by0, by1, bx0, bx1),
        ext=ext,
        exposure=np.ascontiguousarray(expo),
        kernel=np.ascontiguousarray(kernel),
        edisp_t=edisp_t,
        mask=m.astype(float),
        nz_box=nz_box,
        nz_sel=nz_sel,
    )
    if not src.point:
        from scipy import fft

        src.ext_geom = geom.slice_pixels(ex0, ey0, ex1 - ex0, ey1 - ey0)
        src.fft_shape = (
            fft.next_fast_len(ey1 - ey0 + 2 * h, real=True),
            fft.next_fast_len(ex1 - ex0 + 2 * h, real=True),
        )
        src.kernel_fft = fft.rfft2(src.kernel, s=src.fft_shape, axes=(1, 2))
    anchor.term = src
    return anchor, src


def build_map_chunk(
    ds: Any,
    models: Any,
    values: dict,
    region: tuple[slice, slice, slice] | None = None,
    cache: dict | None = None,
    free: Collection[str] | None = None,
) -> MapChunk:
    """Compile a block of a map dataset (loads the arrays it needs; numpy afterwards).

    Parameters
    ----------
    ds : xarray.Dataset
        A ``MapDataset`` or ``MapDatasetOnOff`` (numpy or dask).
    models : Models
        All models; those for this dataset are picked by name.
    values : dict
        Parameter values at build time: they fix the box and IRF kernels of
        each source (its *anchor*).
    region : (slice, slice, slice), optional
        Energy, y and x index ranges of the block (default everything).
    cache : dict, optional
        Arrays shared by the chunks of one dataset (IRF maps, exposure), by name.
    free : collection of str, optional
        Keys of the free parameters (``ParameterSpace.free``). Sky models with
        none of them are constant: their predicted counts are computed here
        once and their kernels are not kept; those whose only free parameter is
        their spectral model's ``linear_parameter`` keep one template. Default:
        every model is variable.
    """
    from ..datasets import dataset_kind
    from .npred import dataset_models

    kind = dataset_kind(ds)
    geom = ds.counts.gx.geom.to_image()
    ne, ny, nx = ds.counts.shape
    if region is None:
        region = (slice(0, ne), slice(0, ny), slice(0, nx))
    es, ys, xs = region
    sky, bkg_model, templates = dataset_models(ds, models)
    if templates:
        raise ConfigError("TemplateNPredModel is not supported by the compiled likelihood yet")
    if bkg_model is not None and bkg_model.spatial_model is not None:
        raise ConfigError("FoV background models with a spatial part are not supported yet")
    for m in sky:
        mk.check_sky_model(m, kind)
    block = ds.isel({D.ENERGY: es, D.Y: ys, D.X: xs})
    counts = np.asarray(block.counts.values, float)
    mask_da = fit_mask(block)
    mask = np.ones(counts.shape, bool) if mask_da is None else np.asarray(mask_da.values, bool)
    onoff = None
    if kind == "MapDatasetOnOff":
        alpha = np.asarray(block.acceptance.values, float) / np.asarray(
            block.acceptance_off.values, float
        )
        onoff = {
            "n_on": counts,
            "n_off": np.asarray(block.counts_off.values, float),
            "alpha": alpha,
            "mask": mask,
        }
        bkg = np.zeros(counts.shape)
    else:
        bkg = (
            np.asarray(block.background.values, float)
            if "background" in block.data_vars
            else np.zeros(counts.shape)
        )
    bkg_masked = np.where(mask, bkg, 0.0)
    nz_flat = np.flatnonzero(mask & (counts > 0))
    e_idx = np.unravel_index(nz_flat, counts.shape)[0]
    cache = {} if cache is None else cache
    key = str(ds.attrs.get("name", ""))
    if key not in cache:
        has_irf = any(n in ds.data_vars for n in ("psf", "edisp"))
        factor = mk.unit_factor(ds.exposure.attrs.get("units", "m2 s"), "cm2 s")
        cache[key] = (
            IrfArrays.from_dataset(ds) if has_irf else None,
            np.asarray(ds.exposure.values, float) * factor if sky else None,
        )
    irf, exposure = cache[key]
    lo_t = np.asarray(energy_axis(ds, D.ENERGY_TRUE).edges, float)
    reco = energy_axis(ds, D.ENERGY)
    context = _Context(
        geom=geom,
        region=region,
        irf=irf,
        exposure=exposure,
        mask=mask,
        nz_flat=nz_flat,
        edisp_matrix="edisp" in ds.data_vars,
        diagonal=diagonal_edisp(energy_axis(ds, D.ENERGY_TRUE), reco),
    )
    constant = [m for m in sky if free is not None and not _has_free(m, free)]
    linear = [(m, key) for m in sky if free is not None and (key := _linear_key(m, free))]
    folded = [*constant, *(m for m, _ in linear)]
    anchors = [_source(context, m, values)[0] for m in sky if not any(m is f for f in folded)]
    chunk = MapChunk(
        name=str(ds.attrs.get("name", "")),
        kind=kind,
        geom=geom,
        region=region,
        e_true=(lo_t[:-1], lo_t[1:], energy_axis(ds, D.ENERGY_TRUE).unit),
        e_reco=(np.asarray(reco.center, float)[es], reco.unit),
        anchors=anchors,
        context=context,
        bkg_model=bkg_model,
        bkg_sum=bkg_masked.sum(axis=(1, 2)),
        nz_counts=counts.ravel()[nz_flat],
        nz_e=e_idx,
        nz_bkg=bkg.ravel()[nz_flat],
        onoff=onoff,
    )
    chunk.extra["background"] = bkg
    if constant:
        fixed = chunk.extra["fixed"] = _dense_npred(chunk, constant, values)
        chunk.fixed_sum = float(fixed[mask].sum())
        chunk.nz_fixed = fixed.ravel()[nz_flat]
    if linear:
        chunk.extra["linear"] = []
        for model, key in linear:
            template = _dense_npred(chunk, [model], {**values, key: 1.0})
            chunk.extra["linear"].append((key, template))
            chunk.linear.append((key, float(template[mask].sum()), template.ravel()[nz_flat]))
    if not anchors:  # nothing to rebuild later: drop the exposure and IRF arrays
        chunk.context = replace(context, exposure=None, irf=None)
    chunk.cost = float(nz_flat.size + sum(s.exposure.size for s in chunk.sources))
    return chunk


def _has_free(model: Any, free: Collection[str]) -> bool:
    """Whether any parameter of a sky model (by key: its link label or path) is free."""
    return any((p.link or path) in free for path, p in model.parameter_items())


def _linear_key(model: Any, free: Collection[str]) -> str | None:
    """Key of a sky model's only free parameter if its prediction is proportional to it."""
    path = getattr(model.spectral_model, "linear_parameter", None)
    if path is None:
        return None
    items = [(p.link or name, name) for name, p in model.parameter_items()]
    free_items = [(key, name) for key, name in items if key in free]
    target = model.component_prefix("spectral") + path
    if len(free_items) == 1 and free_items[0][1] == target:
        return free_items[0][0]
    return None


def _dense_npred(chunk: MapChunk, models: list, values) -> np.ndarray:
    """Predicted counts of sky models on the chunk's block at ``values`` (terms dropped after)."""
    _, ys, xs = chunk.region
    out = np.zeros(chunk.extra["background"].shape)
    for model in models:
        term = _source(chunk.context, model, values)[1]
        if term is None:
            continue
        y0, y1, x0, x1 = term.box
        out[:, y0 - ys.start : y1 - ys.start, x0 - xs.start : x1 - xs.start] += chunk._source_npred(
            term, values
        )
    return out

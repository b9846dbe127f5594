"""Test-statistic maps: a source kernel's amplitude fitted at every pixel (Gammapy's algorithm).

At each pixel ``p`` the predicted counts are ``b(q) + norm * m_p(q)`` over the
kernel's footprint, with ``b`` the dataset's predicted background (``npred``)
and ``m_p`` the source kernel times the predicted counts of the reference
spectrum (exposure x spectrum, folded with the energy dispersion). The Cash
statistic is minimised in ``norm`` (Stewart 2009, as Gammapy's
``TSMapEstimator``): the root of its derivative is found between Gammapy's
bounds by safeguarded Newton steps; ``ts`` is the statistic difference to
``norm = 0``, ``norm_err`` the curvature error, ``norm_ul`` (and optionally
``norm_errn`` / ``norm_errp``) the profile-likelihood crossings of
``+n_sigma**2``.

Implementation: the image is cut into tiles of ``tile_size`` pixels, each tile
with a halo of the kernel's half-width (:func:`dask.array.overlap.overlap` for
dask inputs, slices of the zero-padded array otherwise), and one task fits all
pixels of a tile at once: the kernel footprints are gathered with flat offsets
and the Newton iterations run on ``(pixels, footprint)`` arrays, never a Python
loop per pixel. The graph runs on the local scheduler or on a
``distributed.Client``.

As Gammapy (``sum_over_energy_groups=True``), counts, background and
exposure are summed over the energy bins of a band and the kernel is the
mask-weighted mean of the per-energy kernels.

Examples
--------
>>> est = TSMapEstimator(kernel_width="0.3 deg", tile_size=64)
>>> est.kernel_width
<Quantity 0.3 deg>
>>> maps = est.run(dataset)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .. import dims as D
from ..datasets import dataset_kind, energy_axis, irf_maps
from ..errors import ConfigError, UnitError
from ..fit.stats import TRUNCATION_VALUE
from .excess_map import (
    band_axis,
    energy_groups,
    estimator_attrs,
    reco_exposure,
    reference_fluxes,
)

__all__ = ["TSMapEstimator", "fit_amplitudes"]

_OPTIONAL = ("errn-errp", "ul")
_BATCH = 1024  # pixels per vectorised batch inside a tile (bounds memory)


# -- the vectorised per-pixel fit -------------------------------------------------------
class _Rows:
    """Counts, background and model of many pixels' footprints ``(n_pixels, n_footprint)``.

    The evaluations write into two preallocated work arrays (no temporaries of
    the footprint size: fresh large arrays cost page faults, notably in
    ``distributed`` workers that trim malloc aggressively).
    """

    def __init__(self, c: np.ndarray, b: np.ndarray, m: np.ndarray, work=None) -> None:
        self.c, self.b, self.m = c, b, m
        n = c.shape[0]
        if work is None:
            work = tuple(np.empty_like(c) for _ in range(3))
        self.mc, self._w1, self._w2 = (w[:n] for w in work)
        np.multiply(m, c, out=self.mc)
        self.s_model = m.sum(axis=1)
        self.s_bkg = b.sum(axis=1)

    def subset(self, idx: np.ndarray) -> _Rows:
        """The rows ``idx`` (copied once, for the last few unconverged rows)."""
        return _Rows(self.c[idx], self.b[idx], self.m[idx])

    def _mu(self, x: np.ndarray) -> np.ndarray:
        mu = self._w1
        np.multiply(self.m, x[:, None], out=mu)
        mu += self.b
        np.maximum(mu, TRUNCATION_VALUE, out=mu)  # Gammapy's truncation of npred
        return mu

    def deriv(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and second derivative of the Cash sum in ``norm`` (Gammapy's root function)."""
        mu, w = self._mu(x), self._w2
        np.divide(self.mc, mu, out=w)
        first = 2.0 * (self.s_model - w.sum(axis=1))
        w *= self.m
        w /= mu
        return first, 2.0 * w.sum(axis=1)

    def stat_first(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cash sum at ``norm = x`` and its first derivative."""
        mu, w = self._mu(x), self._w2
        np.divide(self.mc, mu, out=w)
        first = 2.0 * (self.s_model - w.sum(axis=1))
        np.log(mu, out=w)
        w *= self.c
        return 2.0 * (mu.sum(axis=1) - w.sum(axis=1)), first

    def stat(self, x: np.ndarray) -> np.ndarray:
        """Cash sum at ``norm = x``."""
        return self.stat_first(x)[0]


def _iterate(func, rows, x, lo, hi, active, rtol, atol, budget, extra):
    """Safeguarded Newton steps on the active rows; the last few rows continue on a copy."""
    n = x.size
    niter = np.zeros(n, int)
    for used in range(budget):
        count = int(active.sum())
        if count == 0:
            break
        if n > 64 and count < n // 4:
            idx = np.nonzero(active)[0]
            sub = tuple(e[idx] for e in extra)
            xs, its, still = _iterate(
                func,
                rows.subset(idx),
                x[idx],
                lo[idx],
                hi[idx],
                np.ones(count, bool),
                rtol,
                atol[idx],
                budget - used,
                sub,
            )
            x[idx], active[idx] = xs, still
            niter[idx] += its
            break
        f, df = func(rows, x, *extra)
        niter += active
        pos = f > 0
        hi = np.where(active & pos, x, hi)
        lo = np.where(active & ~pos, x, lo)
        new = x - f / df
        bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
        new = np.where(bad, 0.5 * (lo + hi), new)
        scale = np.maximum(np.maximum(np.abs(new), atol), 1e-30)
        done = (np.abs(new - x) <= rtol * scale) | (f == 0) | (hi - lo <= rtol * scale)
        x = np.where(active, new, x)
        active = active & ~done
    return x, niter, active


def _newton_root(func, rows, lo, hi, x0, rtol, max_iter, atol, extra=()):
    """Roots of ``func(rows, x, *extra) -> (f, df)`` (f increasing) in ``[lo, hi]`` per row.

    Returns the roots (NaN where ``[lo, hi]`` does not bracket one), the
    iterations per row and whether each row converged.
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        flo, _ = func(rows, lo, *extra)
        fhi, _ = func(rows, hi, *extra)
        valid = np.isfinite(flo) & np.isfinite(fhi) & (flo <= 0) & (fhi >= 0)
        x = np.where(valid, np.clip(x0, lo, hi), 0.0)
        x = np.where(np.isfinite(x), x, 0.0)
        lo = np.where(valid, lo, 0.0)
        hi = np.where(valid, hi, 0.0)
        x, niter, active = _iterate(
            func, rows, x, lo, hi, valid.copy(), rtol, atol, max_iter, extra
        )
    return np.where(valid, x, np.nan), niter, valid & ~active


def _deriv(rows, x):
    return rows.deriv(x)


def _signed_stat(rows, x, sign, level):
    stat, first = rows.stat_first(x)
    return sign * (stat - level), sign * first


def _crossing(rows: _Rows, level, start, end, x0, rtol, max_iter, atol):
    """Where the (convex) Cash sum crosses ``level`` between ``start`` (minimum) and ``end``."""
    sign = np.where(end >= start, 1.0, -1.0)
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    root, _, _ = _newton_root(
        _signed_stat, rows, lo, hi, x0, rtol, max_iter, atol, extra=(sign, level)
    )
    return root


def fit_amplitudes(
    c: np.ndarray,
    b: np.ndarray,
    m: np.ndarray,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    selection: tuple[str, ...] = _OPTIONAL,
    rtol: float = 1e-6,
    max_iter: int = 100,
    work: tuple[np.ndarray, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Fit ``norm`` per row of ``(counts, background, model)`` arrays ``(n_pixels, n_footprint)``.

    ``work`` may hold three preallocated arrays of at least this shape (reused
    between batches).

    Returns ``norm``, ``norm_err`` (times ``n_sigma``), ``ts``, ``stat``,
    ``stat_null``, ``npred``, ``npred_excess``, ``niter``, ``success`` and,
    if selected, ``norm_errn``, ``norm_errp``, ``norm_ul``.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0.5, 0.3, 0.2]]); b = np.full((1, 3), 2.0)
    >>> res = fit_amplitudes(np.array([[12.0, 5.0, 3.0]]), b, m)
    >>> bool(res["ts"][0] > 9), bool(res["norm"][0] > 0)
    (True, True)
    """
    c, b, m = (np.asarray(a, float) for a in (c, b, m))
    if not np.all(m >= 0):
        m = np.where(m > 0, m, 0.0)
    rows = _Rows(c, b, m, work)
    n = c.shape[0]
    every = np.arange(n)
    # Gammapy's bounds (norm_bounds): background / model over the footprint, in the
    # work arrays (the iterations overwrite them later)
    sn, sn_c = rows._w1, rows._w2
    no_model = ~(m > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(b, m, out=sn)
    np.copyto(sn, np.inf, where=no_model)
    np.copyto(sn_c, sn)
    np.copyto(sn_c, np.inf, where=~(c > 0))
    k = np.argmin(sn_c, axis=1)
    sn_min = np.minimum(sn_c[every, k], 1e14)
    c_min = np.where(np.isfinite(sn_c[every, k]), c[every, k], 1.0)
    norm_min_total = -np.minimum(sn.min(axis=1), 1e14)
    s_counts = np.sum(c, axis=1, where=c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = c_min / rows.s_model - sn_min
        hi = s_counts / rows.s_model - sn_min
    fit = (s_counts > 0) & (rows.s_model > 0)
    sel = np.nonzero(fit)[0]
    norm = norm_min_total.copy()
    niter = np.zeros(n, int)
    success = np.ones(n, bool)
    if sel.size:
        # start from the excess over the footprint, a good first guess; converge to rtol
        # of the larger of |norm| and the Poisson error scale
        with np.errstate(divide="ignore", invalid="ignore"):
            guess = (s_counts[sel] - rows.s_bkg[sel]) / rows.s_model[sel]
            scale = np.sqrt(np.maximum(s_counts[sel], 1.0)) / rows.s_model[sel]
        fit_rows = rows if sel.size == n else rows.subset(sel)
        root, it, ok = _newton_root(
            _deriv, fit_rows, lo[sel], hi[sel], guess, rtol, max_iter, scale
        )
        found = np.isfinite(root)
        norm[sel] = np.where(found, np.maximum(root, norm_min_total[sel]), norm_min_total[sel])
        niter[sel] = np.where(found, it, max_iter)
        success[sel] = ok
    _, second = rows.deriv(norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm_err = np.sqrt(1.0 / (second / 2.0)) * n_sigma
    stat = rows.stat(norm)
    stat_null = rows.stat(np.zeros(n))
    excess = norm * rows.s_model
    out = {
        "norm": norm,
        "norm_err": norm_err,
        "ts": stat_null - stat,
        "stat": stat,
        "stat_null": stat_null,
        "npred": rows.s_bkg + excess,
        "npred_excess": excess,
        "niter": niter.astype(float),
        "success": success.astype(float),
    }
    err1 = np.where(np.isfinite(norm_err), norm_err / n_sigma, 0.0)
    width = 1e2 * err1 * n_sigma
    if "ul" in selection:
        level = stat + n_sigma_ul**2
        x0 = norm + n_sigma_ul * err1
        end = norm + 1e2 * err1 * n_sigma_ul
        out["norm_ul"] = _crossing(rows, level, norm, end, x0, rtol, max_iter, err1)
    if "errn-errp" in selection:
        level = stat + n_sigma**2
        up = _crossing(rows, level, norm, norm + width, norm + n_sigma * err1, rtol, max_iter, err1)
        x0 = norm - n_sigma * err1
        down = _crossing(rows, level, norm, norm - width, x0, rtol, max_iter, err1)
        out["norm_errp"] = up - norm
        out["norm_errn"] = norm - down
    return out


def _tile_keys(selection: tuple[str, ...]) -> list[str]:
    keys = ["ts", "norm", "norm_err", "niter", "success", "npred", "npred_excess"]
    keys += ["stat", "stat_null"]
    if "errn-errp" in selection:
        keys += ["norm_errn", "norm_errp"]
    if "ul" in selection:
        keys.append("norm_ul")
    return keys


def _fit_tile(
    block: np.ndarray,
    kernel: np.ndarray,
    keys: list[str],
    kwargs: dict,
) -> np.ndarray:
    """Fit every valid pixel of one tile (with halo): ``block`` is ``(3 + E, ty + 2h, tx + 2h)``.

    Channels: counts, background, valid-position mask, then ``A_e`` (exposure
    share of energy ``e``), so that the model of pixel ``p`` at ``q`` is
    ``sum_e K_e(q - p) A_e(q)``.
    """
    ky, kx = kernel.shape[1:]
    hy, hx = ky // 2, kx // 2
    ny, nx = block.shape[1:]
    ty, tx = ny - 2 * hy, nx - 2 * hx
    out = np.full((len(keys), ty, tx), np.nan)
    valid = block[2, hy : hy + ty, hx : hx + tx] > 0
    if not valid.any():
        return out
    shares = block[3:]
    if np.all(shares == shares[0]):
        # the mask does not depend on energy here: one exposure layer, the summed kernel
        shares, kernel = shares[:1], kernel.sum(axis=0, keepdims=True)
    support = np.any(kernel != 0, axis=0)
    dy, dx = np.nonzero(support)
    offsets = dy * nx + dx  # footprint of pixel (0, 0) in the flattened halo block
    kflat = kernel[:, dy, dx]
    flat = block.reshape(block.shape[0], -1)
    flat_shares = shares.reshape(shares.shape[0], -1)
    iy, ix = np.nonzero(valid)
    size = (min(_BATCH, iy.size), offsets.size)
    # buffers reused by every batch of the tile (no fresh large temporaries)
    index_buf = np.empty(size, np.intp)
    c_buf, b_buf, m_buf, t_buf = (np.empty(size) for _ in range(4))
    work = tuple(np.empty(size) for _ in range(3))
    for start in range(0, iy.size, _BATCH):
        base = iy[start : start + _BATCH] * nx + ix[start : start + _BATCH]
        n = base.size
        index = index_buf[:n]
        np.add(base[:, None], offsets[None, :], out=index)
        c, b, m, tmp = c_buf[:n], b_buf[:n], m_buf[:n], t_buf[:n]
        np.take(flat[0], index, out=c)
        np.take(flat[1], index, out=b)
        np.take(flat_shares[0], index, out=m)
        m *= kflat[0]
        for e in range(1, kflat.shape[0]):
            np.take(flat_shares[e], index, out=tmp)
            tmp *= kflat[e]
            m += tmp
        res = fit_amplitudes(c, b, m, work=work, **kwargs)
        for i, key in enumerate(keys):
            out[i, iy[start : start + _BATCH], ix[start : start + _BATCH]] = res[key]
    return out


def _tiles_numpy(data: np.ndarray, tile: int, h: int, fit_args: dict):
    """One task per tile (its halo cut from the zero-padded array): few, small tasks."""
    import dask
    import dask.array as dsa

    nkeys = len(fit_args["keys"])
    padded = np.pad(data, ((0, 0), (h, h), (h, h)))
    ny, nx = data.shape[1:]
    rows = []
    for y0 in range(0, ny, tile):
        y1 = min(y0 + tile, ny)
        row = []
        for x0 in range(0, nx, tile):
            x1 = min(x0 + tile, nx)
            block = np.ascontiguousarray(padded[:, y0 : y1 + 2 * h, x0 : x1 + 2 * h])
            task = dask.delayed(_fit_tile, pure=True)(block, **fit_args)
            row.append(dsa.from_delayed(task, shape=(nkeys, y1 - y0, x1 - x0), dtype=float))
        rows.append(row)
    return dsa.block(rows)


def _tiles_dask(data: Any, tile: int, h: int, fit_args: dict):
    """Tiles of a dask array with halos from their neighbours (``dask.array.overlap``)."""
    import dask.array as dsa

    data = data.astype(float).rechunk({0: -1, 1: tile, 2: tile})
    padded = dsa.overlap.overlap(
        data, depth={0: 0, 1: h, 2: h}, boundary={0: "none", 1: 0.0, 2: 0.0}
    )
    return padded.map_blocks(
        _fit_tile,
        **fit_args,
        chunks=((len(fit_args["keys"]),), data.chunks[1], data.chunks[2]),
        dtype=float,
        meta=np.empty((0, 0, 0), float),
    )


# -- the estimator ------------------------------------------------------------------------
class TSMapEstimator:
    """TS, significance, norm, flux, error and upper-limit maps of a source kernel.

    Parameters
    ----------
    model : SkyModel, optional
        Kernel model (its spatial model is moved to the map centre; its frame
        must be the map's); default a point source in the map's frame with a
        power law of index 2 (Gammapy's default).
    kernel_width : str or Quantity
        Full width of the kernel image.
    energy_edges : Quantity or list, optional
        Energy bands (snapped to the dataset's edges); default one band.
    n_sigma, n_sigma_ul : float
        Confidence of the errors and upper limits.
    tile_size : int
        Tile size (pixels) of the dask graph.
    selection_optional : sequence of str, "all" or None
        ``"ul"`` and/or ``"errn-errp"``; default ``("ul",)``.
    rtol, max_niter : float, int
        Relative tolerance and iteration cap of the per-pixel root finding.
    """

    tag = "TSMapEstimator"

    def __init__(
        self,
        model: Any = None,
        kernel_width: Any = "0.3 deg",
        energy_edges: Any = None,
        n_sigma: float = 1,
        n_sigma_ul: float = 2,
        tile_size: int = 64,
        selection_optional: Any = ("ul",),
        rtol: float = 1e-6,
        max_niter: int = 100,
    ) -> None:
        try:
            self.kernel_width = u.Quantity(kernel_width).to("deg")
        except (TypeError, ValueError, u.UnitsError) as err:
            raise UnitError(f"kernel_width {kernel_width!r} is not an angle") from err
        if self.kernel_width.value <= 0:
            raise ConfigError(f"kernel_width must be > 0, got {kernel_width!r}")
        if int(tile_size) < 1:
            raise ConfigError(f"tile_size must be >= 1, got {tile_size!r}")
        if n_sigma <= 0 or n_sigma_ul <= 0:
            raise ConfigError(f"n_sigma and n_sigma_ul must be > 0, got {n_sigma}, {n_sigma_ul}")
        self._default_model = model is None
        if model is None:
            from ..models import PointSpatialModel, PowerLawSpectralModel, SkyModel

            model = SkyModel(PowerLawSpectralModel(index=2), PointSpatialModel(), name="ts-kernel")
        self.model = model
        self.energy_edges = energy_edges
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.tile_size = int(tile_size)
        if selection_optional == "all":
            selection_optional = _OPTIONAL
        selection_optional = tuple(selection_optional or ())
        unknown = set(selection_optional) - set(_OPTIONAL)
        if unknown:
            raise ConfigError(f"selection_optional {sorted(unknown)} not in {_OPTIONAL}")
        self.selection_optional = selection_optional
        self.rtol = float(rtol)
        self.max_niter = int(max_niter)

    def params(self) -> dict[str, Any]:
        """The estimator's parameters (JSON-able)."""
        return {
            "kernel_width": str(self.kernel_width),
            "energy_edges": self.energy_edges,
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
            "tile_size": self.tile_size,
            "selection_optional": list(self.selection_optional),
            "rtol": self.rtol,
        }

    # -- kernel ---------------------------------------------------------------------------
    def estimate_kernel(self, dataset: xr.Dataset) -> xr.DataArray:
        """Kernel ``(energy, ky, kx)``: the model at the map centre through the IRFs.

        Each energy plane is normalised to unit sum; the exposure is constant,
        its value at the centre (Gammapy's ``estimate_kernel``).
        """
        from ..datasets import MapDataset
        from ..fit import npred_signal
        from ..geom import WcsGeom
        from ..models import SkyModel

        geom = dataset.counts.gx.geom
        binsz = float(np.max(geom.pixel_scales))
        npix = int(np.ceil(self.kernel_width.to_value("deg") / binsz) // 2 * 2 + 1)
        center = geom.center_skydir
        lon, lat = float(center.spherical.lon.deg), float(center.spherical.lat.deg)
        kgeom = WcsGeom.create(
            skydir=(lon, lat),
            binsz=binsz,
            npix=npix,
            proj=geom.projection,
            frame=geom.frame,
            axes=[energy_axis(dataset, D.ENERGY)],
        )
        expo = self._center_exposure(dataset)
        true_axis = energy_axis(dataset, D.ENERGY_TRUE)
        egeom = kgeom.to_image().to_cube([true_axis])
        exposure = egeom.wrap(
            np.broadcast_to(expo[:, None, None], egeom.shape).copy(),
            unit=dataset.exposure.attrs.get("units", "m2 s"),
        )
        counts = kgeom.wrap(np.zeros(kgeom.shape))
        irf = {}
        if any(n in dataset.data_vars for n in ("psf", "edisp", "exposure_irf")):
            maps = irf_maps(dataset)
            irf = {n: maps[n] for n in ("psf", "edisp", "exposure_irf") if n in maps}
        kds = MapDataset.create(counts, exposure, name="ts-kernel", **irf)
        spatial = self.model.spatial_model.copy()
        if self._default_model and getattr(spatial, "frame", geom.frame) != geom.frame:
            from ..models import PointSpatialModel

            spatial = PointSpatialModel(frame=geom.frame)  # the default kernel: the map's frame
        for name, value in (("lon_0", lon), ("lat_0", lat)):
            if name in spatial.parameters.names:
                spatial.parameters[name].value = value
        spatial_frame = getattr(spatial, "frame", geom.frame)
        if spatial_frame != geom.frame:
            raise ConfigError(
                f"kernel model frame {spatial_frame!r} differs from the map frame {geom.frame!r}"
            )
        model = SkyModel(self.model.spectral_model, spatial, name="ts-kernel")
        kernel = npred_signal(kds, [model]).values
        with np.errstate(invalid="ignore", divide="ignore"):
            kernel = kernel / kernel.sum(axis=(1, 2), keepdims=True)
        kernel = np.where(np.isfinite(kernel), kernel, 0.0)
        return kgeom.wrap(kernel, name="kernel")

    @staticmethod
    def _center_exposure(dataset: xr.Dataset) -> np.ndarray:
        """Exposure ``(energy_true,)`` at the map centre, or at the nearest pixel with exposure."""
        geom = dataset.counts.gx.geom
        expo = dataset.exposure
        valid = (expo > 0).any(D.ENERGY_TRUE).values
        if not valid.any():
            raise ConfigError(
                f"dataset {dataset.attrs.get('name', '')!r} has no exposure: no TS map kernel"
            )
        cx, cy = (np.asarray(v, float) for v in geom.center_pix)
        yy, xx = np.nonzero(valid)
        k = int(np.argmin((xx - cx) ** 2 + (yy - cy) ** 2))
        return np.asarray(expo.isel({D.Y: int(yy[k]), D.X: int(xx[k])}).values, float)

    # -- run ------------------------------------------------------------------------------
    def run(self, dataset: xr.Dataset, models: Any = None, client: Any = None) -> xr.Dataset:
        """TS maps of a ``MapDataset`` (numpy or dask).

        Parameters
        ----------
        dataset : xarray.Dataset
            The map dataset; the background is its ``npred`` (``background`` and,
            if given, ``models``).
        models : Models, optional
            Models already in the dataset (their counts join the background).
        client : distributed.Client, optional
            Compute on this client's workers (default: dask's local scheduler).

        Returns
        -------
        xarray.Dataset
            Maps ``(energy, y, x)``: ``ts``, ``sqrt_ts``, ``norm``, ``norm_err``,
            [``norm_ul``, ``norm_errn``, ``norm_errp``], ``flux*``, ``npred``,
            ``npred_excess``, ``niter``, ``success``; NaN where nothing is fitted.
        """
        import dask.array as dsa

        kind = dataset_kind(dataset)
        if kind != "MapDataset":
            raise ConfigError(
                f"TSMapEstimator needs a MapDataset (Cash statistic), got {kind} "
                f"{dataset.attrs.get('name', '')!r}"
            )
        from ..fit import npred as fit_npred
        from ..fit import npred_background

        geom = dataset.counts.gx.geom
        axis = energy_axis(dataset, D.ENERGY)
        groups = energy_groups(axis, self.energy_edges)
        out_geom = geom.to_image().to_cube([band_axis(axis, groups)])
        kernel_all = self.estimate_kernel(dataset).values
        mu = npred_background(dataset, []) if models is None else fit_npred(dataset, models)
        mask = (
            dataset.mask_safe.astype(bool)
            if "mask_safe" in dataset.data_vars
            else xr.ones_like(dataset.counts, dtype=bool)
        )
        if "mask_fit" in dataset.data_vars:
            mask = mask & dataset.mask_fit.astype(bool)
        mask = mask & np.isfinite(mu)
        expo = reco_exposure(dataset, self.model.spectral_model)
        keys = _tile_keys(self.selection_optional)
        kwargs = {
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
            "selection": self.selection_optional,
            "rtol": self.rtol,
            "max_iter": self.max_niter,
        }
        h = kernel_all.shape[-1] // 2
        results = []
        for a, b in groups:
            sl = {D.ENERGY: slice(a, b)}
            m = mask.isel(sl).astype(float)
            c = (dataset.counts.isel(sl).astype(float) * m).sum(D.ENERGY)
            bkg = (mu.isel(sl).astype(float).fillna(0.0) * m).sum(D.ENERGY)
            xs = (expo.isel(sl) * m).sum(D.ENERGY)
            msum = m.sum(D.ENERGY)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = (m * xs / msum).fillna(0.0)
            valid = (m.max(D.ENERGY) > 0) & (bkg > 0)
            layers = [c, bkg, valid.astype(float)] + [
                share.isel({D.ENERGY: i}) for i in range(b - a)
            ]
            stack = xr.concat([lay.reset_coords(drop=True) for lay in layers], dim="layer")
            data = stack.transpose("layer", D.Y, D.X).data
            fit_args = {"kernel": kernel_all[a:b], "keys": keys, "kwargs": kwargs}
            if hasattr(data, "dask"):
                out = _tiles_dask(data, self.tile_size, h, fit_args)
            else:
                out = _tiles_numpy(np.asarray(data, float), self.tile_size, h, fit_args)
            results.append(out)
        cube = dsa.stack(results, axis=1)  # (key, band, y, x)
        if client is not None:
            cube = client.compute(cube).result()
        ref = reference_fluxes(self.model.spectral_model, out_geom.axis(D.ENERGY).edges, axis.unit)
        flux_ref = ref["flux"][:, None, None]
        maps = {k: cube[i] for i, k in enumerate(keys)}
        # as Gammapy's FluxMaps (filter_success_nan): no norm where the fit failed
        for name in ("norm", "norm_err"):
            maps[name] = np.where(maps["success"] == 0, np.nan, maps[name])
        with np.errstate(invalid="ignore"):
            ts = np.clip(maps["ts"], 0, None)
            maps["sqrt_ts"] = np.where(maps["norm"] > 0, np.sqrt(ts), -np.sqrt(ts))
        for name in [n for n in keys if n.startswith("norm")]:
            maps[name.replace("norm", "flux")] = maps[name] * flux_ref
        units = {n: ("cm-2 s-1" if n.startswith("flux") else "") for n in maps}
        result = xr.Dataset({n: out_geom.wrap(v, unit=units[n]) for n, v in maps.items()})
        attrs = estimator_attrs(self.tag, self.params(), self.model.spectral_model)
        attrs["reference_model"] = _model_yaml(self.model)
        attrs["dataset"] = str(dataset.attrs.get("name", ""))
        result.attrs.update(attrs)
        return result


def _model_yaml(model: Any) -> str:
    from ..models import Models

    return Models([model]).to_yaml()

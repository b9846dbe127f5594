"""Background methods on reduced maps: FoV normalisation and ring background.

FoV background (per observation, Gammapy's ``FoVBackgroundMaker``)
    The IRF background is normalised to the counts outside an exclusion mask
    (and inside the safe mask). ``method="scale"`` takes the ratio of the sums;
    ``method="fit"`` maximises the Poisson (Cash) likelihood of the counts for
    ``norm * (E / 1 TeV)^-tilt * background``, with the tilt free or fixed. With
    the tilt fixed at 0 both give the same norm.

Ring background (Gammapy's ``RingBackgroundMaker``)
    OFF counts and OFF acceptance are the counts and the background outside the
    exclusion mask, summed in a ring around each pixel (a peak-normalised
    ring kernel, as astropy's ``Ring2DKernel``). With ``alpha = acceptance /
    acceptance_off`` the excess is ``counts - alpha * counts_off`` and the
    significance is Li & Ma's (the WStat test statistic). Works on numpy or
    dask maps; the convolution crosses chunk borders with dask's overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import minimize

from ..errors import ConfigError

__all__ = ["FoVNorm", "fov_normalisation", "li_ma_significance", "ring_background", "ring_kernel"]

FOV_METHODS = ("scale", "fit")


@dataclass(frozen=True)
class FoVNorm:
    """Result of a FoV background normalisation."""

    norm: float
    norm_error: float
    tilt: float = 0.0
    valid: bool = True
    message: str = ""
    reference_tev: float = 1.0

    def factor(self, energy_tev: np.ndarray) -> np.ndarray:
        """Multiplicative factor of the background at reconstructed energies (TeV)."""
        return self.norm * (np.asarray(energy_tev) / self.reference_tev) ** (-self.tilt)


def fov_normalisation(
    counts: np.ndarray,
    background: np.ndarray,
    mask: np.ndarray,
    energy_tev: np.ndarray | None = None,
    *,
    method: str = "scale",
    fit_tilt: bool = False,
    min_counts: float = 0.0,
    min_npred_background: float = 0.0,
) -> FoVNorm:
    """Normalisation of the background to the counts inside ``mask``.

    Parameters
    ----------
    counts, background : array, shape (energy, ...)
        Counts and predicted background.
    mask : bool array, same shape
        Where to compare them: safe and not excluded.
    energy_tev : array, shape (energy,), optional
        Bin centres (TeV), needed for ``fit_tilt``.
    method : {"scale", "fit"}
        See the module docstring.
    fit_tilt : bool
        Fit the spectral tilt too (``method="fit"`` only).
    min_counts, min_npred_background : float
        Gammapy's requirements: at most this many counts or background counts in
        the mask make the normalisation invalid (``valid=False``).

    Returns
    -------
    FoVNorm
    """
    if method not in FOV_METHODS:
        raise ConfigError(f"FoV background method={method!r}; valid: {FOV_METHODS}")
    mask = np.asarray(mask, dtype=bool) & np.isfinite(background)
    n_tot = float(np.asarray(counts)[mask].sum())
    b_tot = float(np.asarray(background)[mask].sum())
    value = n_tot / b_tot if b_tot > 0 else np.nan
    problem = ""
    if not np.isfinite(value):
        problem = "non-finite normalisation"
    elif b_tot <= min_npred_background:
        problem = f"only {b_tot:.1f} background counts outside the exclusion mask"
    elif n_tot <= min_counts:
        problem = f"only {n_tot:.0f} counts outside the exclusion mask"
    if problem:
        return FoVNorm(np.nan, np.nan, valid=False, message=problem)
    if method == "scale" or not fit_tilt:
        return FoVNorm(value, np.sqrt(n_tot) / b_tot)
    if energy_tev is None:
        raise ConfigError("fitting the FoV background tilt needs the energy bin centres")
    n = np.asarray(counts, dtype=float)
    b = np.asarray(background, dtype=float)
    e = np.asarray(energy_tev, dtype=float).reshape((-1,) + (1,) * (n.ndim - 1))

    def cash(p):
        model = p[0] * (e ** -p[1]) * b
        model = np.where(mask, model, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(mask, model - n * np.log(np.clip(model, 1e-25, None)), 0.0)
        return 2 * float(terms.sum())

    fit = minimize(
        cash,
        x0=[value, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000},
    )
    norm, tilt = (float(v) for v in fit.x)
    return FoVNorm(
        norm,
        np.sqrt(n_tot) / b_tot,
        tilt=tilt,
        valid=bool(fit.success),
        message="" if fit.success else str(fit.message),
    )


def ring_kernel(r_in_pix: float, width_pix: float) -> np.ndarray:
    """Peak-normalised ring kernel, as astropy's ``Ring2DKernel`` (``mode="center"``)."""
    from astropy.convolution import Ring2DKernel

    kernel = Ring2DKernel(r_in_pix, width_pix)
    kernel.normalize("peak")
    return kernel.array


def li_ma_significance(n_on, n_off, alpha):
    """Li & Ma (1983) eq. 17 significance, signed by the excess (WStat ``sqrt_ts``)."""
    n_on = np.asarray(n_on, dtype=float)
    n_off = np.asarray(n_off, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = n_on + n_off
        term_on = np.where(n_on > 0, n_on * np.log((1 + alpha) / alpha * n_on / total), 0.0)
        term_off = np.where(n_off > 0, n_off * np.log((1 + alpha) * n_off / total), 0.0)
        ts = 2 * (term_on + term_off)
        sig = np.sign(n_on - alpha * n_off) * np.sqrt(np.clip(ts, 0, None))
    return np.where(np.isfinite(sig), sig, 0.0)


def ring_background(
    counts: xr.DataArray,
    background: xr.DataArray,
    *,
    r_in: float,
    width: float,
    exclusion: xr.DataArray | None = None,
    mask_safe: xr.DataArray | None = None,
) -> xr.Dataset:
    """ON/OFF maps from the ring background method.

    Parameters
    ----------
    counts, background : xarray.DataArray
        Maps on the same WCS geometry (e.g. the stacked ``counts`` and
        ``background``), with or without an energy axis; numpy or dask.
    r_in, width : float
        Inner radius and width of the ring (deg).
    exclusion : xarray.DataArray, optional
        Boolean image, True where **not excluded** (Gammapy's convention).
    mask_safe : xarray.DataArray, optional
        Safe mask; pixels without OFF acceptance are removed from it.

    Returns
    -------
    xarray.Dataset
        ``counts``, ``counts_off``, ``acceptance``, ``acceptance_off``,
        ``alpha``, ``excess``, ``significance`` and ``mask_safe``.
    """
    geom = counts.gx.geom
    scale = float(geom.pixel_scales[0])
    kernel = ring_kernel(r_in / scale, width / scale)
    keep = (
        xr.ones_like(counts, dtype=bool)
        if exclusion is None
        else exclusion.astype(bool).reset_coords(drop=True)
    )
    counts_off = _convolve(counts.where(keep, 0).astype(float), kernel)
    acceptance_off = _convolve(background.where(keep, 0).astype(float), kernel)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = (background / acceptance_off).where(acceptance_off > 0, 0.0)
    excess = counts - alpha * counts_off
    significance = xr.apply_ufunc(
        li_ma_significance, counts, counts_off, alpha, dask="parallelized", output_dtypes=[float]
    )
    safe = acceptance_off > 0
    if mask_safe is not None:
        safe = safe & mask_safe.astype(bool)
    out = xr.Dataset(
        {
            "counts": counts,
            "counts_off": counts_off,
            "acceptance": background,
            "acceptance_off": acceptance_off,
            "alpha": alpha,
            "excess": excess,
            "significance": significance,
            "mask_safe": safe,
        }
    )
    for name in (
        "counts",
        "counts_off",
        "acceptance",
        "acceptance_off",
        "alpha",
        "significance",
        "mask_safe",
    ):
        out[name].attrs["units"] = ""
    out["excess"].attrs["units"] = ""
    out.attrs.update({"r_in": r_in, "width": width, "method": "ring"})
    return out


def _convolve(image: xr.DataArray, kernel: np.ndarray) -> xr.DataArray:
    """Same-size convolution over the sky dims, zero outside the map (dask-aware)."""
    from ..geom.convolve import convolve

    return convolve(image, kernel, mode="constant", cval=0.0)

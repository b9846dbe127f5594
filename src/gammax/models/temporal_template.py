"""Light-curve template: a tabulated norm versus time.

Read from a table (``TIME`` relative to ``MJDREFI``/``MJDREFF`` in ``TIMESYS``,
unit from the column or ``TIMEUNIT``, and ``NORM``), as Gammapy's
``LightCurveTemplateTemporalModel`` in its ``table`` format. The norm is
interpolated linearly in time, extrapolated linearly outside the nodes and
clipped at 0 (Gammapy's behaviour); the integral is exact for that function.

Examples
--------
>>> import numpy as np
>>> from astropy.time import Time
>>> lc = LightCurveTemplateTemporalModel([0.0, 1.0, 2.0], [1.0, 3.0, 2.0], t_ref=55000.0)
>>> float(lc(Time(55000.5, format="mjd", scale="utc")))
2.0
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, FormatError
from .registry import register
from .temporal import TemporalModel, _t_ref

__all__ = ["LightCurveTemplateTemporalModel"]


def _clipped_segment(y0, y1, h):
    """Integral of max(0, y) for y linear from y0 to y1 over a length h (signed)."""
    both = (y0 >= 0) & (y1 >= 0)
    none = (y0 <= 0) & (y1 <= 0)
    pos = np.where(y0 > 0, y0, y1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cross = h * pos**2 / (2 * (np.abs(y0) + np.abs(y1)))
    return np.where(both, h * (y0 + y1) / 2, np.where(none, 0.0, cross))


@register("temporal")
class LightCurveTemplateTemporalModel(TemporalModel):
    """Tabulated light curve (norm at times relative to ``t_ref``).

    Parameters
    ----------
    time : array-like
        Node times relative to ``t_ref``, in days, increasing (at least 2).
    norm : array-like
        Norms at the nodes.
    t_ref : float
        Reference time (MJD in ``scale``).
    scale : str
        Time scale (default ``"utc"``).
    filename : str, optional
        Table file, used when writing YAML.
    """

    tag = ("LightCurveTemplateTemporalModel", "template")
    _defaults = (_t_ref(),)

    def __init__(
        self,
        time: Any,
        norm: Any,
        t_ref: float = 51544.0,
        scale: str = "utc",
        filename: str | None = None,
    ) -> None:
        super().__init__(scale=scale, t_ref=t_ref)
        nodes = np.asarray(time, dtype=float).ravel()
        values = np.asarray(norm, dtype=float).ravel()
        if nodes.size < 2 or nodes.size != values.size:
            raise ConfigError(
                f"a light curve needs >= 2 nodes and one norm per node; got {nodes.size} "
                f"times and {values.size} norms"
            )
        if np.any(np.diff(nodes) <= 0):
            raise ConfigError("light-curve times must be strictly increasing")
        object.__setattr__(self, "_time", nodes)
        object.__setattr__(self, "_norm", values)
        object.__setattr__(self, "filename", None if filename is None else str(filename))

    def _static_state(self) -> tuple:
        return (self.scale, self._time, self._norm)

    def _linear(self, dt):
        t, n = self._time, self._norm
        idx = np.clip(np.searchsorted(t, dt) - 1, 0, t.size - 2)
        slope = (n[idx + 1] - n[idx]) / (t[idx + 1] - t[idx])
        return idx, n[idx] + slope * (dt - t[idx])

    def _kernel(self, time, t_ref):
        _, value = self._linear(np.asarray(time, float) - t_ref)
        return np.clip(value, 0.0, None)

    def _primitive(self, dt):
        """Integral of the clipped norm from the first node to ``dt``."""
        t, n = self._time, self._norm
        seg = _clipped_segment(n[:-1], n[1:], np.diff(t))
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        idx, value = self._linear(dt)
        start = np.where(dt < t[0], 0, idx)
        return cum[start] + _clipped_segment(n[start], value, dt - t[start])

    def _integral_kernel(self, t_min, t_max, t_ref):
        lo, hi = np.asarray(t_min, float) - t_ref, np.asarray(t_max, float) - t_ref
        return self._primitive(hi) - self._primitive(lo)

    # -- files ----------------------------------------------------------------------
    @classmethod
    def read(cls, filename: str | Path, format: str = "table") -> LightCurveTemplateTemporalModel:
        """Read a light-curve table (FITS or any astropy table format)."""
        from astropy.table import Table

        if format != "table":
            raise FormatError(
                f"light-curve format {format!r} is not supported by gammax; expected 'table'",
                file=filename,
            )
        table = Table.read(filename)
        cols = {c.upper(): c for c in table.colnames}
        for col in ("TIME", "NORM"):
            if col not in cols:
                raise FormatError(
                    f"light-curve table lacks column {col!r}; columns are {table.colnames}",
                    file=filename,
                )
        meta = {k.upper(): v for k, v in table.meta.items()}
        try:
            mjdref = float(meta["MJDREFI"]) + float(meta.get("MJDREFF", 0.0))
        except KeyError:
            raise FormatError(
                "light-curve table has no MJDREFI/MJDREFF time reference", file=filename
            ) from None
        time_col = table[cols["TIME"]]
        unit = time_col.unit or meta.get("TIMEUNIT")
        if unit is None:
            raise FormatError(
                "light-curve TIME has no unit (column unit or TIMEUNIT)", file=filename
            )
        import astropy.units as u
        from astropy.time import Time

        days = (np.asarray(time_col, float) * u.Unit(unit)).to_value("d")
        source = str(meta.get("TIMESYS", "utc")).lower()
        t_ref = Time(mjdref, format="mjd", scale=source).utc.mjd
        return cls(days, np.asarray(table[cols["NORM"]], float), t_ref, "utc", str(filename))

    def write(self, filename: str | Path | None = None, overwrite: bool = False) -> None:
        """Write the table (``TIME`` in days, ``NORM``, ``MJDREFI/F``, ``TIMESYS``)."""
        import astropy.units as u
        from astropy.table import Table

        path = filename or self.filename
        if path is None:
            raise ConfigError("the light curve has no filename to write to")
        t_ref = self.parameters["t_ref"].value
        meta = {
            "MJDREFI": int(np.floor(t_ref)),
            "MJDREFF": float(t_ref - np.floor(t_ref)),
            "TIMESYS": self.scale,
            "TIMEUNIT": "d",
        }
        table = Table({"TIME": self._time * u.d, "NORM": self._norm}, meta=meta)
        table.write(path, overwrite=overwrite)
        object.__setattr__(self, "filename", str(path))

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form: ``filename``, ``format``, ``unit`` besides ``t_ref``."""
        data = super().to_dict(full_output)
        data.update({"filename": self.filename, "format": "table", "unit": ""})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> LightCurveTemplateTemporalModel:
        """Read the table named in the YAML (relative to the YAML file), as Gammapy."""
        from .io import resolve_path

        where = context.get("where", "LightCurveTemplateTemporalModel")
        if not data.get("filename"):
            raise FormatError(
                f"{where}: a light-curve template needs 'filename'", file=context.get("file")
            )
        path = resolve_path(data["filename"], context.get("base"), where, context.get("file"))
        return cls.read(path, data.get("format", "table"))

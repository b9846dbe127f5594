"""WCS sky geometry: any astropy-supported projection, in ICRS, FK5 or Galactic.

The geometry is the celestial WCS (as a small dict of FITS cards), the image
size and the non-spatial axes. Pixel conventions are astropy's and Gammapy's:
0-based pixel coordinates, pixel ``i`` spans ``[i - 0.5, i + 0.5)``; data dims
are ``(axes..., y, x)``.

Examples
--------
>>> from gammax.geom import MapAxis, WcsGeom
>>> energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
>>> geom = WcsGeom.create(skydir=(83.63, 22.01), width=2.0, binsz=0.02, frame="icrs",
...                       proj="TAN", axes=[energy])
>>> geom.shape
(2, 100, 100)
>>> geom.dims
('energy', 'y', 'x')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr
from astropy.wcs import WCS

from .. import dims as _dims
from ..errors import GeometryError
from .axes import Axis
from .base import Geom, check_axes
from .projection import SkyProjector
from .sky import check_frame

__all__ = ["WcsGeom"]

_KEEP_CARDS = ("CTYPE", "CRPIX", "CRVAL", "CDELT", "CUNIT")


def _wcs_cards(wcs: WCS) -> dict[str, Any]:
    """The FITS cards that define a 2-D celestial WCS, as plain Python values."""
    w = wcs.wcs
    w.set()
    cards: dict[str, Any] = {}
    cdelt, pc = w.get_cdelt(), w.get_pc()
    for i in (0, 1):
        n = i + 1
        cards[f"CTYPE{n}"] = str(w.ctype[i])
        cards[f"CRPIX{n}"] = float(w.crpix[i])
        cards[f"CRVAL{n}"] = float(w.crval[i])
        cards[f"CDELT{n}"] = float(cdelt[i])
        cards[f"CUNIT{n}"] = "deg"
    if not np.array_equal(pc, np.eye(2)):
        for i in (0, 1):
            for j in (0, 1):
                cards[f"PC{i + 1}_{j + 1}"] = float(pc[i, j])
    cards["LONPOLE"] = float(w.lonpole)
    cards["LATPOLE"] = float(w.latpole)
    if w.radesys:
        cards["RADESYS"] = str(w.radesys)
    if np.isfinite(w.equinox):
        cards["EQUINOX"] = float(w.equinox)
    for i, m, value in w.get_pv():
        cards[f"PV{i}_{m}"] = float(value)
    return cards


def _frame_of(cards: Mapping[str, Any]) -> str:
    ctype = str(cards["CTYPE1"])
    if ctype.startswith("GLON"):
        return "galactic"
    if ctype.startswith("RA--"):
        return "fk5" if str(cards.get("RADESYS", "ICRS")).upper() == "FK5" else "icrs"
    raise GeometryError(f"unsupported celestial axis type CTYPE1={ctype!r}; expected RA or GLON")


def _pair(value: Any, what: str) -> tuple[float, float]:
    import astropy.units as u

    if isinstance(value, str):
        value = u.Quantity(value)
    if isinstance(value, u.Quantity):
        value = value.to_value("deg")
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        return float(arr[0]), float(arr[0])
    if arr.size == 2:
        return float(arr[0]), float(arr[1])
    raise GeometryError(f"{what} must be one value or a (lon, lat) pair, got {value!r}")


@dataclass(frozen=True, eq=False)
class WcsGeom(Geom):
    """A WCS sky geometry times non-spatial axes.

    Use :meth:`create` or :meth:`from_header` rather than the constructor.

    Parameters
    ----------
    cards : tuple of (str, value)
        FITS cards of the celestial WCS (``CTYPE``, ``CRPIX``, ``CRVAL``, ...).
    npix : (int, int)
        Image size ``(nx, ny)``.
    axes : tuple of axes
        Non-spatial axes, outermost first.
    """

    cards: tuple[tuple[str, Any], ...]
    npix: tuple[int, int]
    axes: tuple[Axis, ...] = ()

    sky_dims = (_dims.Y, _dims.X)

    def __post_init__(self) -> None:
        cards = dict(self.cards)
        missing = [
            k
            for k in ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2")
            if k not in cards
        ]
        if missing:
            raise GeometryError(f"WCS cards lack {missing}; got {sorted(cards)}")
        nx, ny = (int(v) for v in self.npix)
        if nx < 1 or ny < 1:
            raise GeometryError(f"npix must be positive, got {self.npix}")
        object.__setattr__(self, "cards", tuple(cards.items()))
        object.__setattr__(self, "npix", (nx, ny))
        object.__setattr__(self, "axes", check_axes(self.axes, self.sky_dims))
        _frame_of(cards)

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        skydir: Any = None,
        width: Any = None,
        binsz: Any = 0.5,
        frame: str = "icrs",
        proj: str = "CAR",
        axes: Iterable[Axis] = (),
        npix: Any = None,
        refpix: tuple[float, float] | None = None,
    ) -> WcsGeom:
        """Geometry from a centre, a width (or ``npix``) and a pixel size, as Gammapy does.

        Parameters
        ----------
        skydir : SkyCoord or (lon, lat), optional
            Reference position (degrees in ``frame`` for a tuple). Default ``(0, 0)``.
        width : float, str, Quantity or pair, optional
            Image width in degrees (``(lon, lat)`` pair allowed). Without ``width``
            and ``npix`` the image covers the whole sky.
        binsz : float, str, Quantity or pair
            Pixel size in degrees.
        frame : {"icrs", "galactic", "fk5"}
            Sky frame.
        proj : str
            WCS projection code (``CAR``, ``TAN``, ``AIT``, ... anything wcslib knows).
        axes : sequence of axes
            Non-spatial axes, outermost first.
        npix : int or (int, int), optional
            Image size in pixels; overrides ``width``.
        refpix : (float, float), optional
            1-based FITS reference pixel; default the image centre.
        """
        from astropy.coordinates import SkyCoord
        from astropy.wcs.utils import celestial_frame_to_wcs

        frame = check_frame(frame)
        if skydir is None:
            crval = (0.0, 0.0)
        elif isinstance(skydir, SkyCoord):
            c = skydir.transform_to(frame)
            crval = (float(c.spherical.lon.deg), float(c.spherical.lat.deg))
        else:
            crval = _pair(skydir, "skydir")
        binsz = _pair(binsz, "binsz")
        if npix is None:
            width = (360.0, 180.0) if width is None else _pair(width, "width")
            npix = (int(np.rint(width[0] / binsz[0])), int(np.rint(width[1] / binsz[1])))
        else:
            npix = tuple(int(v) for v in np.broadcast_to(np.asarray(npix), (2,)))
        if refpix is None:
            refpix = ((npix[0] + 1) / 2.0, (npix[1] + 1) / 2.0)
        sc_frame = SkyCoord(0, 0, unit="deg", frame=frame).frame
        wcs = celestial_frame_to_wcs(sc_frame, projection=str(proj).upper())
        wcs.wcs.crpix = refpix
        wcs.wcs.crval = crval
        wcs.wcs.cdelt = (-binsz[0], binsz[1])
        wcs.wcs.datfix()
        return cls(tuple(_wcs_cards(wcs).items()), npix, tuple(axes))

    @classmethod
    def from_wcs(cls, wcs: WCS, npix: tuple[int, int], axes: Iterable[Axis] = ()) -> WcsGeom:
        """Geometry from an astropy WCS (its celestial part) and an image size."""
        return cls(tuple(_wcs_cards(wcs.celestial).items()), npix, tuple(axes))

    @classmethod
    def from_header(
        cls, header: Any, npix: tuple[int, int] | None = None, axes: Iterable[Axis] = ()
    ) -> WcsGeom:
        """Geometry from a FITS header (``NAXIS1``/``NAXIS2`` give the size by default)."""
        import warnings

        from astropy.wcs import FITSFixedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2).celestial
        if npix is None:
            try:
                npix = (int(header["NAXIS1"]), int(header["NAXIS2"]))
            except KeyError as err:
                raise GeometryError("header has no NAXIS1/NAXIS2; pass npix=(nx, ny)") from err
        return cls.from_wcs(wcs, npix, axes)

    @classmethod
    def from_sky_attrs(cls, attrs: Mapping[str, Any], axes: tuple[Axis, ...] = ()) -> WcsGeom:
        """Geometry from the attributes written by :meth:`sky_attrs`."""
        try:
            cards, npix = attrs["wcs"], attrs["npix"]
        except KeyError as err:
            raise GeometryError(f"WCS geometry attributes lack {err}; got {sorted(attrs)}") from err
        return cls(tuple(dict(cards).items()), tuple(npix), axes)

    # -- basic properties --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WcsGeom)
            and dict(self.cards) == dict(other.cards)
            and self.npix == other.npix
            and self.axes == other.axes
        )

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.cards)), self.npix, self.axes))

    def __getstate__(self):
        return {"cards": self.cards, "npix": self.npix, "axes": self.axes}

    def __repr__(self) -> str:
        c = dict(self.cards)
        return (
            f"WcsGeom({self.projection}, frame={self.frame!r}, npix={self.npix}, "
            f"crval=({c['CRVAL1']:.6g}, {c['CRVAL2']:.6g}), "
            f"binsz=({abs(c.get('CDELT1', 1.0)):.4g}, {abs(c.get('CDELT2', 1.0)):.4g}), "
            f"axes={list(self.axis_names)})"
        )

    @cached_property
    def wcs(self) -> WCS:
        """The celestial astropy WCS (a new object per geometry, do not modify)."""
        wcs = WCS(dict(self.cards))
        wcs.array_shape = (self.npix[1], self.npix[0])
        return wcs

    @property
    def header_cards(self) -> dict[str, Any]:
        """The WCS cards as a dict."""
        return dict(self.cards)

    @property
    def frame(self) -> str:
        """Sky frame name."""
        return _frame_of(dict(self.cards))

    @property
    def projection(self) -> str:
        """Projection code, e.g. ``"CAR"``."""
        return str(dict(self.cards)["CTYPE1"])[5:8].strip("-")

    @property
    def sky_shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.npix[1], self.npix[0])

    @property
    def pixel_scales(self) -> tuple[float, float]:
        """Absolute pixel sizes ``(x, y)`` in degrees at the reference pixel."""
        cdelt = self.wcs.wcs.get_cdelt()
        return (abs(float(cdelt[0])), abs(float(cdelt[1])))

    @property
    def width(self) -> tuple[float, float]:
        """Image size ``(x, y)`` in degrees (``npix * pixel size``)."""
        sx, sy = self.pixel_scales
        return (self.npix[0] * sx, self.npix[1] * sy)

    @property
    def center_pix(self) -> tuple[float, float]:
        """Pixel coordinates of the image centre."""
        return ((self.npix[0] - 1) / 2.0, (self.npix[1] - 1) / 2.0)

    @property
    def center_skydir(self):
        """Image centre as a ``SkyCoord``."""
        from astropy.coordinates import SkyCoord

        lon, lat = self.pix_to_world(*self.center_pix)
        return SkyCoord(float(lon), float(lat), unit="deg", frame=self.frame)

    @cached_property
    def projector(self) -> SkyProjector:
        """Fast sky -> pixel transformer."""
        return SkyProjector(self.wcs, self.frame)

    # -- transforms ------------------------------------------------------------------
    def world_to_pix(self, lon: Any, lat: Any, frame: str | None = None):
        """Pixel coordinates ``(x, y)`` of sky positions (degrees in ``frame``)."""
        return self.projector.to_pixel(lon, lat, frame)

    def pix_to_world(self, x: Any, y: Any):
        """Sky positions ``(lon, lat)`` in the geometry frame, degrees, of pixel coordinates."""
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        lon, lat = self.wcs.wcs_pix2world(x.ravel(), y.ravel(), 0)
        return lon.reshape(x.shape), lat.reshape(x.shape)

    def coord_to_pix(self, coords: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Pixel coordinates of map coordinates, by dim name.

        Parameters
        ----------
        coords : mapping
            ``"lon"``, ``"lat"`` in degrees (or ``"skycoord"``), ``"frame"``
            optionally, and a value per non-spatial axis name.

        Examples
        --------
        >>> geom = WcsGeom.create(npix=(3, 3), binsz=1.0)
        >>> pix = geom.coord_to_pix({"lon": 0.0, "lat": 1.0})
        >>> float(pix["x"]), float(pix["y"])
        (1.0, 2.0)
        """
        lon, lat, frame = _sky_from_coords(coords)
        x, y = self.world_to_pix(lon, lat, frame)
        out = {_dims.X: x, _dims.Y: y}
        for axis in self.axes:
            if axis.name in coords:
                out[axis.name] = axis.coord_to_pix(coords[axis.name])
        return out

    def pix_to_coord(self, pix: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Map coordinates (``"lon"``, ``"lat"`` and axis values) of pixel coordinates."""
        lon, lat = self.pix_to_world(pix[_dims.X], pix[_dims.Y])
        out = {"lon": lon, "lat": lat}
        for axis in self.axes:
            if axis.name in pix:
                out[axis.name] = axis.pix_to_coord(pix[axis.name])
        return out

    def coord_to_idx(self, coords: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Integer pixel indices (``-1`` outside the map) by dim name."""
        pix = self.coord_to_pix(coords)
        out = {}
        for dim, size in ((_dims.X, self.npix[0]), (_dims.Y, self.npix[1])):
            p = pix[dim]
            with np.errstate(invalid="ignore"):
                inside = (p >= -0.5) & (p < size - 0.5)
                out[dim] = np.where(inside, np.floor(np.where(inside, p, 0) + 0.5), -1).astype(
                    np.intp
                )
        for axis in self.axes:
            if axis.name in coords:
                out[axis.name] = axis.coord_to_idx(coords[axis.name])
        return out

    def contains(self, coords: Mapping[str, Any]) -> np.ndarray:
        """Whether map coordinates fall inside the map (all given dims)."""
        idx = self.coord_to_idx(coords)
        return np.all(np.stack(np.broadcast_arrays(*[v >= 0 for v in idx.values()])), axis=0)

    # -- derived geometries ---------------------------------------------------------------
    def _with_wcs(self, crpix=None, cdelt=None, npix=None) -> WcsGeom:
        cards = dict(self.cards)
        if crpix is not None:
            cards["CRPIX1"], cards["CRPIX2"] = float(crpix[0]), float(crpix[1])
        if cdelt is not None:
            cards["CDELT1"], cards["CDELT2"] = float(cdelt[0]), float(cdelt[1])
        npix = self.npix if npix is None else npix
        return WcsGeom(tuple(cards.items()), npix, self.axes)

    def slice_pixels(self, x0: int, y0: int, nx: int, ny: int) -> WcsGeom:
        """The ``nx * ny`` pixels starting at pixel ``(x0, y0)`` (may lie outside)."""
        c = dict(self.cards)
        return self._with_wcs(crpix=(c["CRPIX1"] - x0, c["CRPIX2"] - y0), npix=(nx, ny))

    def pad(self, width: int | tuple[int, int]) -> WcsGeom:
        """Geometry grown by ``width`` pixels on each side (``(x, y)`` pair allowed)."""
        wx, wy = (int(width), int(width)) if np.isscalar(width) else (int(width[0]), int(width[1]))
        return self.slice_pixels(-wx, -wy, self.npix[0] + 2 * wx, self.npix[1] + 2 * wy)

    def crop(self, width: int | tuple[int, int]) -> WcsGeom:
        """Geometry shrunk by ``width`` pixels on each side."""
        wx, wy = (int(width), int(width)) if np.isscalar(width) else (int(width[0]), int(width[1]))
        return self.slice_pixels(wx, wy, self.npix[0] - 2 * wx, self.npix[1] - 2 * wy)

    def downsample(self, factor: int) -> WcsGeom:
        """Pixels ``factor`` times larger (``npix`` must be divisible by ``factor``)."""
        factor = int(factor)
        if self.npix[0] % factor or self.npix[1] % factor:
            raise GeometryError(
                f"image of {self.npix} pixels is not divisible by factor {factor}; pad first"
            )
        c = dict(self.cards)
        crpix = ((c["CRPIX1"] - 0.5) / factor + 0.5, (c["CRPIX2"] - 0.5) / factor + 0.5)
        cdelt = (c["CDELT1"] * factor, c["CDELT2"] * factor)
        return self._with_wcs(crpix, cdelt, (self.npix[0] // factor, self.npix[1] // factor))

    def upsample(self, factor: int) -> WcsGeom:
        """Pixels ``factor`` times smaller."""
        factor = int(factor)
        c = dict(self.cards)
        crpix = ((c["CRPIX1"] - 0.5) * factor + 0.5, (c["CRPIX2"] - 0.5) * factor + 0.5)
        cdelt = (c["CDELT1"] / factor, c["CDELT2"] / factor)
        return self._with_wcs(crpix, cdelt, (self.npix[0] * factor, self.npix[1] * factor))

    def to_binsz(self, binsz: Any) -> WcsGeom:
        """Same centre, width and projection with another pixel size (as Gammapy)."""
        return WcsGeom.create(
            skydir=self.center_skydir,
            width=self.width,
            binsz=binsz,
            frame=self.frame,
            proj=self.projection,
            axes=self.axes,
        )

    def cutout_slices(self, position: Any, width: Any, mode: str = "trim") -> dict[str, slice]:
        """Pixel slices ``{"y": ..., "x": ...}`` of a cutout, as Gammapy's ``cutout``.

        ``mode="partial"`` slices may extend beyond the image; see
        :func:`gammax.geom.ops.cutout` which pads the data then.
        """
        from astropy.nddata import Cutout2D, NoOverlapError

        wx, wy = _pair(width, "width")
        size = (max(wy / self.pixel_scales[1], 1.0), max(wx / self.pixel_scales[0], 1.0))
        dummy = np.broadcast_to(np.zeros((), dtype=bool), self.sky_shape)
        try:
            c2d = Cutout2D(
                dummy, position=position, size=size, wcs=self.wcs, mode=mode, fill_value=False
            )
        except (NoOverlapError, ValueError) as err:
            raise GeometryError(f"cutout at {position} of width {width}: {err}") from err
        (y0, y1), (x0, x1) = c2d.bbox_original
        if mode == "partial":
            xlo, ylo = (int(v) for v in np.subtract(c2d.origin_original, c2d.origin_cutout))
            ny, nx = c2d.shape
            return {_dims.Y: slice(ylo, ylo + ny), _dims.X: slice(xlo, xlo + nx)}
        return {_dims.Y: slice(int(y0), int(y1) + 1), _dims.X: slice(int(x0), int(x1) + 1)}

    # -- xarray -------------------------------------------------------------------------
    def sky_attrs(self) -> dict[str, Any]:
        """Attributes of the ``geom`` coordinate: ``geom_type``, ``frame``, ``npix``, ``wcs``."""
        return {
            "geom_type": "wcs",
            "frame": self.frame,
            "npix": list(self.npix),
            "wcs": dict(self.cards),
        }

    def sky_coords(self) -> dict[str, xr.DataArray]:
        """Integer pixel-index coordinates ``y`` and ``x``."""
        return {
            _dims.Y: xr.DataArray(
                np.arange(self.npix[1], dtype=np.int64),
                dims=(_dims.Y,),
                attrs={"long_name": "WCS pixel row (0-based)"},
            ),
            _dims.X: xr.DataArray(
                np.arange(self.npix[0], dtype=np.int64),
                dims=(_dims.X,),
                attrs={"long_name": "WCS pixel column (0-based)"},
            ),
        }

    def pixel_field(
        self, func, dtype: Any, chunks: Any = None, name: str | None = None, unit: str = ""
    ) -> xr.DataArray:
        """An image ``func(y_idx, x_idx)`` on the sky pixels, lazily per chunk if ``chunks``.

        ``func`` receives 2-D integer index grids of one block and returns an array
        of their shape; it must be picklable for distributed schedulers.
        """
        image = self.to_image()
        if chunks is None:
            yy, xx = np.meshgrid(np.arange(self.npix[1]), np.arange(self.npix[0]), indexing="ij")
            data = func(yy, xx)
        else:
            import dask.array as dsa

            if isinstance(chunks, Mapping):
                chunks = (chunks.get(_dims.Y, -1), chunks.get(_dims.X, -1))
            template = dsa.empty(self.sky_shape, chunks=chunks, dtype=dtype)
            data = dsa.map_blocks(
                _call_on_block,
                template,
                field_func=func,
                dtype=dtype,
                meta=np.empty((0, 0), dtype=dtype),
            )
        return image.wrap(data, unit=unit, name=name)

    def get_coord(self, chunks: Any = None) -> dict[str, xr.DataArray]:
        """Sky coordinates of the pixel centres (``lon``, ``lat`` images in degrees)."""
        lon = self.pixel_field(_LonLat(self, 0), float, chunks, "lon", "deg")
        lat = self.pixel_field(_LonLat(self, 1), float, chunks, "lat", "deg")
        return {"lon": lon, "lat": lat}

    def solid_angle(self, chunks: Any = None) -> xr.DataArray:
        """Solid angle of each pixel in sr (exact for great-circle pixel sides).

        Each pixel is split into two spherical triangles between its corners,
        whose areas follow from Van Oosterom & Strackee's formula.
        """
        return self.pixel_field(_SolidAngle(self), float, chunks, "solid_angle", "sr")

    def separation(self, skydir: Any) -> xr.DataArray:
        """Angular distance (degrees) of every pixel centre from ``skydir``."""
        from astropy.coordinates import SkyCoord

        c = (
            skydir
            if isinstance(skydir, SkyCoord)
            else SkyCoord(*skydir, unit="deg", frame=self.frame)
        )
        c = c.transform_to(self.frame)
        return self.pixel_field(
            _Separation(self, float(c.spherical.lon.deg), float(c.spherical.lat.deg)),
            float,
            None,
            "separation",
            "deg",
        )


# -- picklable per-block functions ---------------------------------------------------------
def _call_on_block(block, field_func, block_info=None):
    (y0, y1), (x0, x1) = block_info[0]["array-location"]
    yy, xx = np.meshgrid(np.arange(y0, y1), np.arange(x0, x1), indexing="ij")
    return field_func(yy, xx)


@dataclass(frozen=True)
class _LonLat:
    geom: WcsGeom
    which: int

    def __call__(self, yy, xx):
        return self.geom.pix_to_world(xx, yy)[self.which]


@dataclass(frozen=True)
class _Separation:
    geom: WcsGeom
    lon: float
    lat: float

    def __call__(self, yy, xx):
        from .sky import lonlat_to_unit

        lon, lat = self.geom.pix_to_world(xx, yy)
        a = lonlat_to_unit(lon, lat)
        b = lonlat_to_unit(self.lon, self.lat)
        dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
        cross = np.sqrt(
            (a[1] * b[2] - a[2] * b[1]) ** 2
            + (a[2] * b[0] - a[0] * b[2]) ** 2
            + (a[0] * b[1] - a[1] * b[0]) ** 2
        )
        return np.degrees(np.arctan2(cross, dot))


def _triangle(a, b, c):
    triple = (
        a[0] * (b[1] * c[2] - b[2] * c[1])
        + a[1] * (b[2] * c[0] - b[0] * c[2])
        + a[2] * (b[0] * c[1] - b[1] * c[0])
    )
    dots = 1.0 + sum(a[i] * b[i] + b[i] * c[i] + c[i] * a[i] for i in range(3))
    return 2.0 * np.arctan2(np.abs(triple), dots)


@dataclass(frozen=True)
class _SolidAngle:
    geom: WcsGeom

    def __call__(self, yy, xx):
        from .sky import lonlat_to_unit

        corners = {}
        for dx, dy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
            lon, lat = self.geom.pix_to_world(xx + dx, yy + dy)
            corners[dx, dy] = lonlat_to_unit(lon, lat)
        a, b = corners[-0.5, -0.5], corners[0.5, -0.5]
        c, d = corners[0.5, 0.5], corners[-0.5, 0.5]
        with np.errstate(invalid="ignore"):
            return _triangle(a, b, c) + _triangle(a, c, d)


def _sky_from_coords(coords: Mapping[str, Any]):
    if "skycoord" in coords:
        c = coords["skycoord"]
        frame = c.frame.name
        sph = c.spherical
        return np.asarray(sph.lon.deg), np.asarray(sph.lat.deg), frame
    try:
        return (
            np.asarray(coords["lon"], dtype=float),
            np.asarray(coords["lat"], dtype=float),
            coords.get("frame"),
        )
    except KeyError as err:
        raise GeometryError(
            f"sky coordinates need 'lon' and 'lat' (degrees) or 'skycoord'; got {sorted(coords)}"
        ) from err

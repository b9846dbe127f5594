"""The Gamma Astro Data Formats (GADF) vocabulary: HDU types, classes and IRF layouts.

This module is the one place that knows how GADF names things: which HDU
classes exist, how a header declares them (``HDUCLAS1..4``), which columns a
table of each class must have, and how an IRF table's axis columns map onto
gammax dimension names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from astropy.io import fits

from .. import dims

__all__ = [
    "HDU_CLASSES",
    "HDU_TYPES",
    "IRF_SPECS",
    "REQUIRED_COLUMNS",
    "AxisSpec",
    "IRFSpec",
    "classify_header",
    "fov_alignment",
    "hdu_type_of_class",
    "is_gadf_header",
]

#: HDU types of the GADF HDU index, and the classes each may have.
HDU_TYPES: dict[str, tuple[str, ...]] = {
    "events": ("events",),
    "gti": ("gti",),
    "pointing": ("pointing",),
    "aeff": ("aeff_2d", "map"),
    "edisp": ("edisp_2d", "edisp_kernel_map", "edisp_map"),
    "psf": ("psf_table", "psf_3gauss", "psf_king", "psf_map_reco", "psf_map"),
    "bkg": ("bkg_2d", "bkg_3d", "map"),
    "rad_max": ("rad_max_2d",),
}

#: Every HDU class gammax reads.
HDU_CLASSES: tuple[str, ...] = tuple(sorted({c for cs in HDU_TYPES.values() for c in cs}))

#: Columns a table of each class must have (alternatives separated by ``|``).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("EVENT_ID", "TIME", "RA", "DEC", "ENERGY"),
    "gti": ("START", "STOP"),
    "pointing": ("TIME",),
}


def hdu_type_of_class(hdu_class: str) -> str | None:
    """HDU type of an HDU class (``"psf_king"`` -> ``"psf"``); ``None`` if unknown.

    ``"map"`` is shared by aeff and bkg and so has no unique type.
    """
    owners = [t for t, classes in HDU_TYPES.items() if hdu_class in classes]
    return owners[0] if len(owners) == 1 else None


# HDUCLAS2 / HDUCLAS4 spellings -> (hdu_type, hdu_class). CTA 1DC uses "2D", "3GAUSS", "3D".
_CLAS2_TO_TYPE = {
    "EFF_AREA": "aeff",
    "EDISP": "edisp",
    "RPSF": "psf",
    "PSF": "psf",
    "BKG": "bkg",
    "RAD_MAX": "rad_max",
}
_CLAS4_ALIASES = {
    ("aeff", "2D"): "aeff_2d",
    ("edisp", "2D"): "edisp_2d",
    ("bkg", "2D"): "bkg_2d",
    ("bkg", "3D"): "bkg_3d",
    ("psf", "3GAUSS"): "psf_3gauss",
    ("psf", "KING"): "psf_king",
    ("psf", "TABLE"): "psf_table",
    ("rad_max", "2D"): "rad_max_2d",
}


def is_gadf_header(header: fits.Header) -> bool:
    """Whether a header declares a GADF HDU (or an OGIP-style table gammax reads)."""
    return classify_header(header) is not None


def classify_header(header: fits.Header) -> tuple[str, str] | None:
    """``(hdu_type, hdu_class)`` declared by a header, or ``None``.

    Uses the ``HDUCLAS1..4`` keywords, with the spellings found in real files
    (CTA 1DC's ``HDUCLAS4 = '3GAUSS'``), and falls back on ``EXTNAME`` for
    EVENTS and GTI tables and on the column names for IRF tables without class
    keywords.

    Examples
    --------
    >>> from astropy.io import fits
    >>> classify_header(fits.Header({"HDUCLAS1": "RESPONSE", "HDUCLAS2": "EFF_AREA",
    ...                              "HDUCLAS4": "AEFF_2D"}))
    ('aeff', 'aeff_2d')
    """
    clas1 = str(header.get("HDUCLAS1", "")).strip().upper()
    clas2 = str(header.get("HDUCLAS2", "")).strip().upper()
    clas4 = str(header.get("HDUCLAS4", "")).strip().upper()
    extname = str(header.get("EXTNAME", "")).strip().upper()
    if clas1 == "EVENTS" or (not clas1 and extname == "EVENTS"):
        return ("events", "events")
    if clas1 == "GTI" or (not clas1 and extname == "GTI"):
        return ("gti", "gti")
    if clas1 == "POINTING" or (not clas1 and extname == "POINTING"):
        return ("pointing", "pointing")
    if not clas1:
        return _classify_by_columns(header)
    if clas1 == "RESPONSE":
        hdu_type = _CLAS2_TO_TYPE.get(clas2)
        if hdu_type is None:
            return None
        hdu_class = clas4.lower()
        if hdu_class not in HDU_TYPES[hdu_type]:
            hdu_class = _CLAS4_ALIASES.get((hdu_type, clas4), "")
        if hdu_class not in HDU_TYPES[hdu_type]:
            return None
        return (hdu_type, hdu_class)
    return None


def _classify_by_columns(header: fits.Header) -> tuple[str, str] | None:
    """Class of an IRF table without ``HDUCLASn`` keywords, from its column names.

    Gammapy writes parametric PSFs without class keywords, for example.
    """
    names = {str(header[key]).strip().upper() for key in header if key.startswith("TTYPE")}
    if not names:
        return None
    rules = (
        ({"EFFAREA"}, ("aeff", "aeff_2d")),
        ({"MATRIX", "MIGRA_LO"}, ("edisp", "edisp_2d")),
        ({"RPSF"}, ("psf", "psf_table")),
        ({"SIGMA_1", "SCALE"}, ("psf", "psf_3gauss")),
        ({"GAMMA", "SIGMA"}, ("psf", "psf_king")),
        ({"DETX_LO"}, ("bkg", "bkg_3d")),
        ({"RAD_MAX", "ENERG_LO"}, ("rad_max", "rad_max_2d")),
    )
    for required, kind in rules:
        if required <= names:
            if kind[0] == "bkg" and not names & {"BKG", "BGD"}:
                continue
            return kind
    if names & {"BKG", "BGD"} and "THETA_LO" in names:
        return ("bkg", "bkg_2d")
    return None


@dataclass(frozen=True)
class AxisSpec:
    """An IRF axis: its gammax dimension and the FITS column prefixes that hold its bins."""

    dim: str
    prefixes: tuple[str, ...]
    #: Interpolation scale of coordinates along the axis.
    scale: str = "lin"
    #: Default unit when the file gives none.
    default_unit: str = ""


@dataclass(frozen=True)
class IRFSpec:
    """How an IRF class is laid out in a GADF table and how it interpolates."""

    hdu_class: str
    hdu_type: str
    axes: tuple[AxisSpec, ...]
    #: Data variable name -> candidate FITS column names (first found wins).
    data: dict[str, tuple[str, ...]]
    #: Interpolation scale of the values.
    values_scale: str = "lin"
    #: Default unit of the values when the file gives none or an unparsable one.
    default_units: dict[str, str] = field(default_factory=dict)

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names of the data variables, in order."""
        return tuple(a.dim for a in self.axes)


_ENERGY_TRUE = AxisSpec(dims.ENERGY_TRUE, ("ENERG", "ETRUE"), "log", "TeV")
_ENERGY_RECO = AxisSpec(dims.ENERGY, ("ENERG", "EREC", "ERECO"), "log", "TeV")
_OFFSET = AxisSpec(dims.OFFSET, ("THETA",), "lin", "deg")
_MIGRA = AxisSpec(dims.MIGRA, ("MIGRA",), "lin", "")
_RAD = AxisSpec(dims.RAD, ("RAD",), "lin", "deg")
_FOV_LON = AxisSpec(dims.FOV_LON, ("DETX",), "lin", "deg")
_FOV_LAT = AxisSpec(dims.FOV_LAT, ("DETY",), "lin", "deg")

#: Layout of every table-based IRF class.
IRF_SPECS: dict[str, IRFSpec] = {
    "aeff_2d": IRFSpec(
        "aeff_2d",
        "aeff",
        (_ENERGY_TRUE, _OFFSET),
        {"aeff": ("EFFAREA",)},
        default_units={"aeff": "m2"},
    ),
    "edisp_2d": IRFSpec(
        "edisp_2d", "edisp", (_ENERGY_TRUE, _MIGRA, _OFFSET), {"edisp": ("MATRIX",)}
    ),
    "psf_table": IRFSpec(
        "psf_table",
        "psf",
        (_ENERGY_TRUE, _OFFSET, _RAD),
        {"psf": ("RPSF",)},
        default_units={"psf": "sr-1"},
    ),
    "psf_3gauss": IRFSpec(
        "psf_3gauss",
        "psf",
        (_ENERGY_TRUE, _OFFSET),
        {
            "sigma_1": ("SIGMA_1",),
            "sigma_2": ("SIGMA_2",),
            "sigma_3": ("SIGMA_3",),
            "scale": ("SCALE",),
            "ampl_2": ("AMPL_2",),
            "ampl_3": ("AMPL_3",),
        },
    ),
    "psf_king": IRFSpec(
        "psf_king", "psf", (_ENERGY_TRUE, _OFFSET), {"gamma": ("GAMMA",), "sigma": ("SIGMA",)}
    ),
    "bkg_2d": IRFSpec(
        "bkg_2d",
        "bkg",
        (_ENERGY_RECO, _OFFSET),
        {"bkg": ("BKG", "BGD")},
        values_scale="log",
        default_units={"bkg": "s-1 MeV-1 sr-1"},
    ),
    "bkg_3d": IRFSpec(
        "bkg_3d",
        "bkg",
        (_ENERGY_RECO, _FOV_LON, _FOV_LAT),
        {"bkg": ("BKG", "BGD")},
        values_scale="log",
        default_units={"bkg": "s-1 MeV-1 sr-1"},
    ),
    "rad_max_2d": IRFSpec(
        "rad_max_2d",
        "rad_max",
        (_ENERGY_RECO, _OFFSET),
        {"rad_max": ("RAD_MAX",)},
        default_units={"rad_max": "deg"},
    ),
}


def fov_alignment(bkg_attrs: dict, events_attrs: dict | None = None) -> str:
    """FoV alignment of a background model: ``RADEC``, ``REVERSE_LON_RADEC`` or ``ALTAZ``.

    From the background header's ``FOVALIGN`` (default ``RADEC``), except for the
    H.E.S.S. DR1 data (EVENTS written by ``SASH FITS::EventListWriter`` with
    ``HDUVERS = '0.2'``), whose background models have the FoV longitude
    reversed; Gammapy applies the same rule for backward compatibility.

    Examples
    --------
    >>> fov_alignment({"FOVALIGN": "RADEC"}, {"CREATOR": "SASH FITS::EventListWriter",
    ...                                      "HDUVERS": "0.2"})
    'REVERSE_LON_RADEC'
    """
    alignment = str(bkg_attrs.get("FOVALIGN", bkg_attrs.get("fov_alignment", "RADEC")))
    alignment = alignment.strip().upper() or "RADEC"
    events_attrs = events_attrs or {}
    if (
        str(events_attrs.get("CREATOR", "")).strip() == "SASH FITS::EventListWriter"
        and str(events_attrs.get("HDUVERS", "")).strip() == "0.2"
    ):
        return "REVERSE_LON_RADEC"
    return alignment

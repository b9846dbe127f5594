"""The declarative schema of the analysis configuration, and its validation.

The schema is data: a tree of :class:`Section` objects holding :class:`Key`
objects (name, kind, default, unit, choices, bounds, one line of
documentation). One generic validator walks it, so that every section gets the
same messages for the same mistakes; the commented default file
(``gammax config``) and the configuration reference of the docs are rendered
from the same tree, so they cannot drift from what the validator accepts.

Examples
--------
>>> from gammax.analysis.schema import SCHEMA
>>> [s.name for s in SCHEMA.sections][:4]
['general', 'observations', 'datasets', 'models']
>>> SCHEMA.find("datasets.geom.wcs.binsize").default
'0.02 deg'
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u

from ..errors import ConfigError

__all__ = ["SCHEMA", "Key", "Section", "suggest"]

#: Kinds of values a :class:`Key` holds.
KINDS = (
    "str",
    "path",
    "int",
    "float",
    "bool",
    "quantity",
    "time",
    "list[str]",
    "list[int]",
    "list[time]",
    "dict",
    "models",
    "scheduler",
    "bytes",
)

#: Local dask schedulers accepted by ``compute.scheduler``.
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
_ADDRESS = re.compile(r"^([a-z]+://)?[\w.\-\[\]:]+:\d+$")


def suggest(word: str, choices: Any) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``choices`` (or ``""``)."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _fmt_choices(choices: Any) -> str:
    return ", ".join("null" if c is None else repr(c) for c in choices)


@dataclass(frozen=True)
class Key:
    """One configuration key.

    Parameters
    ----------
    name : str
        Key name in its section.
    kind : str
        One of :data:`KINDS`.
    default : Any
        Default value, as written in YAML (quantities as strings).
    doc : str
        One line for the commented default file and the reference.
    unit : str, optional
        For ``quantity`` keys: a unit the value must convert to.
    choices : tuple, optional
        Allowed values (of the value, or of each list item).
    nullable : bool
        Whether ``null`` is allowed.
    positive, non_negative : bool
        Range constraints of numbers and quantities.
    """

    name: str
    kind: str
    default: Any
    doc: str
    unit: str | None = None
    choices: tuple | None = None
    nullable: bool = False
    positive: bool = False
    non_negative: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:  # pragma: no cover - a schema bug
            raise ValueError(f"unknown kind {self.kind!r}")

    @property
    def type_text(self) -> str:
        """Human description of the expected value."""
        text = {
            "quantity": f"quantity in {self.unit}",
            "path": "path",
            "models": "list of models",
            "scheduler": "scheduler name or address",
            "bytes": "memory size",
        }.get(self.kind, self.kind)
        if self.choices:
            text += f" (one of {_fmt_choices(self.choices)})"
        if self.positive:
            text += ", > 0"
        elif self.non_negative:
            text += ", >= 0"
        if self.nullable:
            text += ", or null"
        return text

    # ------------------------------------------------------------------ parsing
    def parse(self, value: Any, where: str) -> Any:
        """Validate one value; returns it parsed (quantities as ``Quantity``)."""
        path = f"{where}.{self.name}" if where else self.name
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{path}: null is not allowed; expected {self.type_text}")
        kind = self.kind
        if kind.startswith("list["):
            if isinstance(value, str | int | float):
                value = [value]
            if not isinstance(value, list | tuple):
                raise ConfigError(
                    f"{path}: expected a list of {kind[5:-1]}, got {type(value).__name__} {value!r}"
                )
            item = Key(self.name, kind[5:-1], None, self.doc, choices=self.choices)
            return [item._scalar(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return self._scalar(value, path)

    def _scalar(self, value: Any, path: str) -> Any:
        kind = self.kind
        if kind in ("str", "path"):
            if not isinstance(value, str):
                raise ConfigError(
                    f"{path}: expected a string, got {type(value).__name__} {value!r}"
                )
            out: Any = value
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(
                    f"{path}: expected true or false, got {type(value).__name__} {value!r}"
                )
            out = value
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(
                    f"{path}: expected an integer, got {type(value).__name__} {value!r}"
                )
            out = value
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(
                    f"{path}: expected a number, got {type(value).__name__} {value!r}"
                )
            out = float(value)
        elif kind == "quantity":
            out = self._quantity(value, path)
        elif kind == "time":
            out = _parse_time(value, path)
        elif kind == "dict":
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}: expected a mapping, got {type(value).__name__} {value!r}"
                )
            out = dict(value)
        elif kind == "models":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(
                    f"{path}: expected a list of model mappings, got "
                    f"{type(value).__name__} {value!r}"
                )
            out = value
        elif kind == "scheduler":
            if not isinstance(value, str):
                raise ConfigError(
                    f"{path}: expected a string, got {type(value).__name__} {value!r}"
                )
            if value not in LOCAL_SCHEDULERS and not _ADDRESS.match(value):
                raise ConfigError(
                    f"{path}: {value!r} is neither a local scheduler "
                    f"({_fmt_choices(LOCAL_SCHEDULERS)}) nor a scheduler address such as "
                    f"'tcp://10.0.0.1:8786'.{suggest(value, LOCAL_SCHEDULERS)}"
                )
            out = value
        elif kind == "bytes":
            out = _parse_bytes(value, path)
        else:  # pragma: no cover
            raise AssertionError(kind)
        if self.choices is not None and out not in self.choices:
            raise ConfigError(
                f"{path}: {value!r} is not a valid choice; valid: {_fmt_choices(self.choices)}."
                f"{suggest(value, [c for c in self.choices if c is not None])}"
            )
        self._check_range(out, value, path)
        return out

    def _quantity(self, value: Any, path: str) -> u.Quantity:
        if isinstance(value, u.Quantity):
            q = value
        elif isinstance(value, str):
            try:
                q = u.Quantity(value)
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"{path}: cannot read {value!r} as a quantity in {self.unit} "
                    f"(write e.g. '1 {self.unit}'): {err}"
                ) from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            raise ConfigError(
                f"{path}: {value!r} has no unit; write it with one, e.g. '{value} {self.unit}'"
            )
        else:
            raise ConfigError(
                f"{path}: expected a quantity in {self.unit}, got {type(value).__name__} {value!r}"
            )
        if not q.unit.is_equivalent(self.unit):
            raise ConfigError(
                f"{path}: {value!r} has unit {q.unit.to_string()!r}, which does not convert to "
                f"{self.unit!r}"
            )
        if not q.isscalar:
            raise ConfigError(f"{path}: expected one value, got {value!r}")
        return q

    def _check_range(self, out: Any, value: Any, path: str) -> None:
        if not (self.positive or self.non_negative):
            return
        number = out.value if isinstance(out, u.Quantity) else out
        if self.positive and not number > 0:
            raise ConfigError(f"{path}: must be > 0, got {value!r}")
        if self.non_negative and not number >= 0:
            raise ConfigError(f"{path}: must be >= 0, got {value!r}")


def _parse_time(value: Any, path: str) -> str:
    import datetime

    from astropy.time import Time

    if isinstance(value, datetime.date):  # YAML reads unquoted dates as dates
        value = value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        text: Any = float(value)
        kwargs = {"format": "mjd"}
    elif isinstance(value, str):
        text, kwargs = value, {}
    else:
        raise ConfigError(
            f"{path}: expected a time (ISO string or MJD number), got {type(value).__name__} "
            f"{value!r}"
        )
    try:
        Time(text, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read {value!r} as a time: {err}") from None
    return value


def _parse_bytes(value: Any, path: str) -> str | int:
    from dask.utils import parse_bytes

    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(
            f"{path}: expected a memory size such as '4GB', got {type(value).__name__} {value!r}"
        )
    if value == "auto":
        return value
    try:
        n = parse_bytes(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{path}: cannot read {value!r} as a memory size (write e.g. '4GB' or 'auto')"
        ) from None
    if n <= 0:
        raise ConfigError(f"{path}: must be > 0, got {value!r}")
    return value


@dataclass(frozen=True)
class Section:
    """A configuration section: keys and sub-sections."""

    name: str
    doc: str
    keys: tuple[Key, ...] = ()
    sections: tuple[Section, ...] = ()
    fields_order: tuple[str, ...] = field(default=(), compare=False)

    @property
    def names(self) -> list[str]:
        """Key and sub-section names, in file order."""
        return [k.name for k in self.keys] + [s.name for s in self.sections]

    def child(self, name: str) -> Key | Section:
        """Key or sub-section ``name``."""
        for item in (*self.keys, *self.sections):
            if item.name == name:
                return item
        raise KeyError(name)

    def find(self, dotted: str) -> Key | Section:
        """Key or section at a dotted path (``"datasets.geom.wcs"``)."""
        node: Any = self
        for part in dotted.split("."):
            node = node.child(part)
        return node

    def defaults(self) -> dict[str, Any]:
        """The default values, as plain YAML data."""
        out: dict[str, Any] = {k.name: _copy(k.default) for k in self.keys}
        out.update({s.name: s.defaults() for s in self.sections})
        return out

    def walk(self, prefix: str = ""):
        """Yield ``(dotted path, Key)`` of every key below this section."""
        here = f"{prefix}.{self.name}" if prefix else self.name
        for k in self.keys:
            yield f"{here}.{k.name}" if here else k.name, k
        for s in self.sections:
            yield from s.walk(here)

    def validate(self, data: Any, where: str = "") -> dict[str, Any]:
        """Check ``data`` (a mapping) against the section; returns parsed values."""
        here = where or "top level"
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"section {here!r}: expected a mapping of keys, got {type(data).__name__} {data!r}"
            )
        names = self.names
        for key in data:
            if key not in names:
                raise ConfigError(
                    f"unknown key {key!r} in section {here!r}; valid keys: {', '.join(names)}."
                    f"{suggest(key, names)}"
                )
        out: dict[str, Any] = {}
        for k in self.keys:
            raw = data[k.name] if k.name in data else _copy(k.default)
            out[k.name] = k.parse(raw, where)
        for s in self.sections:
            sub = f"{where}.{s.name}" if where else s.name
            out[s.name] = s.validate(data.get(s.name), sub)
        return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def expand_path(text: str) -> str:
    """Expand ``$VARS`` and ``~``; ``$GAMMAX_DATA`` defaults to the shared data folder."""
    if "$GAMMAX_DATA" in text or "${GAMMAX_DATA}" in text:
        from ..testing import data_path

        env = dict(os.environ)
        env.setdefault("GAMMAX_DATA", str(data_path()))
        for name in ("${GAMMAX_DATA}", "$GAMMAX_DATA"):
            text = text.replace(name, env["GAMMAX_DATA"])
    return os.path.expanduser(os.path.expandvars(text))


# -- the schema -------------------------------------------------------------------------------
def _sky(name: str, doc: str, *, radius: bool = False, frame: str = "icrs") -> Section:
    keys = [
        Key("frame", "str", frame, "sky frame", choices=("icrs", "galactic")),
        Key("lon", "quantity", None, "longitude (RA or l)", unit="deg", nullable=True),
        Key("lat", "quantity", None, "latitude (Dec or b)", unit="deg", nullable=True),
    ]
    if radius:
        keys.append(
            Key("radius", "quantity", None, "radius", unit="deg", nullable=True, positive=True)
        )
    return Section(name, doc, tuple(keys))


def _energy_range(name: str, doc: str, emin: Any, emax: Any, nbins: Any = None) -> Section:
    keys = [
        Key("min", "quantity", emin, "lower edge", unit="TeV", nullable=True, positive=True),
        Key("max", "quantity", emax, "upper edge", unit="TeV", nullable=True, positive=True),
    ]
    if nbins is not False:
        keys.append(
            Key("nbins", "int", nbins, "number of log-spaced bins", nullable=True, positive=True)
        )
    return Section(name, doc, tuple(keys))


#: Analysis steps, in the order :meth:`Analysis.run` runs them.
STEPS = ("observations", "datasets", "fit", "flux_points", "light_curve", "excess_map")
#: Background methods: ``fov`` for 3D, ``reflected``/``wobble`` for 1D.
BACKGROUND_METHODS = (None, "fov", "reflected", "wobble")
SAFE_MASK_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
MAP_PRODUCTS = ("counts", "exposure", "background", "psf", "edisp")
IRF_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")

SCHEMA = Section(
    "",
    "gammax analysis configuration",
    sections=(
        Section(
            "general",
            "where outputs go and what runs",
            (
                Key("outdir", "path", "gammax-analysis", "output directory (created)"),
                Key("overwrite", "bool", False, "replace the outputs of an earlier run"),
                Key(
                    "steps",
                    "list[str]",
                    list(STEPS),
                    "steps Analysis.run() runs, in this order",
                    choices=STEPS,
                ),
                Key("progress", "bool", True, "progress bars during reduction and fitting"),
                Key("plots", "bool", True, "write PNG plots (needs matplotlib)"),
                Key(
                    "log_level",
                    "str",
                    "info",
                    "logging level",
                    choices=("debug", "info", "warning", "error"),
                ),
            ),
        ),
        Section(
            "observations",
            "which observations of which data store",
            (
                Key(
                    "datastore",
                    "path",
                    "$GAMMAX_DATA/hess-dl3-dr1",
                    "data store directory or index file ($VARS expanded)",
                ),
                Key("obs_ids", "list[int]", [], "observation ids (empty: all)"),
                Key(
                    "obs_file",
                    "path",
                    None,
                    "text file of observation ids, one per line",
                    nullable=True,
                ),
                Key(
                    "required_irf",
                    "list[str]",
                    ["aeff", "edisp", "psf", "bkg"],
                    "drop observations lacking any of these IRFs",
                    choices=IRF_TYPES,
                ),
            ),
            (
                _sky("obs_cone", "keep pointings within a cone", radius=True),
                Section(
                    "obs_time",
                    "keep observations overlapping a time range",
                    (
                        Key("start", "time", None, "ISO time or MJD", nullable=True),
                        Key("stop", "time", None, "ISO time or MJD", nullable=True),
                    ),
                ),
            ),
        ),
        Section(
            "datasets",
            "the reduction (DL3 -> DL4)",
            (
                Key("type", "str", "3d", "3d: maps; 1d: ON/OFF spectra", choices=("1d", "3d")),
                Key("stack", "bool", True, "fit the stacked dataset (else one per observation)"),
                Key(
                    "map_selection",
                    "list[str]",
                    list(MAP_PRODUCTS),
                    "3D products to make",
                    choices=MAP_PRODUCTS,
                ),
                Key(
                    "containment_correction",
                    "bool",
                    True,
                    "1D: exposure times the PSF containment in the ON region",
                ),
            ),
            (
                Section(
                    "geom",
                    "3D geometry and energy axes (1D uses the axes)",
                    sections=(
                        Section(
                            "wcs",
                            "sky geometry of the 3D maps",
                            (
                                Key(
                                    "binsize",
                                    "quantity",
                                    "0.02 deg",
                                    "pixel size",
                                    unit="deg",
                                    positive=True,
                                ),
                                Key(
                                    "binsize_irf",
                                    "quantity",
                                    "0.2 deg",
                                    "pixel size of the PSF and edisp maps",
                                    unit="deg",
                                    positive=True,
                                ),
                                Key(
                                    "proj",
                                    "str",
                                    "CAR",
                                    "WCS projection",
                                    choices=("CAR", "TAN", "AIT", "MOL"),
                                ),
                            ),
                            (
                                _sky("skydir", "map centre (default: the ON region centre)"),
                                Section(
                                    "width",
                                    "map size",
                                    (
                                        Key(
                                            "width",
                                            "quantity",
                                            "5 deg",
                                            "longitude extent",
                                            unit="deg",
                                            positive=True,
                                        ),
                                        Key(
                                            "height",
                                            "quantity",
                                            "5 deg",
                                            "latitude extent",
                                            unit="deg",
                                            positive=True,
                                        ),
                                    ),
                                ),
                            ),
                        ),
                        Section(
                            "selection",
                            "what of each observation is used",
                            (
                                Key(
                                    "offset_max",
                                    "quantity",
                                    "2.5 deg",
                                    "offset of the 'offset-max' safe mask",
                                    unit="deg",
                                    positive=True,
                                ),
                            ),
                        ),
                        Section(
                            "axes",
                            "energy axes",
                            sections=(
                                _energy_range(
                                    "energy", "reconstructed energy", "1 TeV", "10 TeV", 5
                                ),
                                _energy_range(
                                    "energy_true", "true energy", "0.5 TeV", "20 TeV", 16
                                ),
                            ),
                        ),
                    ),
                ),
                Section(
                    "background",
                    "background method",
                    (
                        Key(
                            "method",
                            "str",
                            None,
                            "3D: null (none) or fov; 1D: reflected (null) or wobble",
                            choices=BACKGROUND_METHODS,
                            nullable=True,
                        ),
                        Key(
                            "exclusion",
                            "str",
                            None,
                            "excluded regions as a DS9 string",
                            nullable=True,
                        ),
                        Key(
                            "parameters",
                            "dict",
                            {},
                            "fov: {method: scale|fit}; reflected/wobble: region finder options",
                        ),
                    ),
                ),
                Section(
                    "safe_mask",
                    "safe energy range and field of view",
                    (
                        Key(
                            "methods",
                            "list[str]",
                            ["aeff-default"],
                            "safe-mask methods",
                            choices=SAFE_MASK_METHODS,
                        ),
                        Key(
                            "parameters",
                            "dict",
                            {},
                            "their parameters (aeff_percent, bias_percent, ...)",
                        ),
                    ),
                ),
                _sky("on_region", "1D ON region (a circle)", radius=True),
            ),
        ),
        Section(
            "models",
            "sky models to fit",
            (
                Key(
                    "file",
                    "path",
                    None,
                    "models YAML file (Gammapy format; relative paths: to the config file)",
                    nullable=True,
                ),
                Key(
                    "components",
                    "models",
                    None,
                    "inline models, as the 'components' list of a models YAML file; "
                    "file and components both null: a power-law point source 'source' at "
                    "the target",
                    nullable=True,
                ),
            ),
        ),
        Section(
            "fit",
            "the likelihood fit",
            (
                Key("backend", "str", "minuit", "optimizer", choices=("minuit", "scipy")),
                Key("optimize_opts", "dict", {}, "backend options (tol, strategy, ...)"),
            ),
            (_energy_range("fit_range", "energy range of the fit", None, None, False),),
        ),
        Section(
            "flux_points",
            "flux points of one source",
            (
                Key("source", "str", "source", "model name"),
                Key("parameters", "dict", {}, "FluxPointsEstimator options"),
            ),
            (_energy_range("energy", "energy bins", "1 TeV", "10 TeV", 4),),
        ),
        Section(
            "light_curve",
            "light curve of one source",
            (
                Key("source", "str", "source", "model name"),
                Key("parameters", "dict", {}, "LightCurveEstimator options"),
            ),
            (
                Section(
                    "time_intervals",
                    "time bins (null: one per observation)",
                    (
                        Key("start", "list[time]", [], "bin starts"),
                        Key("stop", "list[time]", [], "bin stops"),
                    ),
                ),
                _energy_range("energy_edges", "energy range (null: the fit range)", None, None, 1),
            ),
        ),
        Section(
            "excess_map",
            "excess and significance maps (3D)",
            (
                Key(
                    "correlation_radius",
                    "quantity",
                    "0.1 deg",
                    "correlation radius",
                    unit="deg",
                    positive=True,
                ),
                Key("parameters", "dict", {}, "ExcessMapEstimator options"),
            ),
            (_energy_range("energy_edges", "energy range (null: all)", None, None, False),),
        ),
        Section(
            "compute",
            "where the dask graphs run",
            (
                Key(
                    "scheduler",
                    "scheduler",
                    "threads",
                    "threads, processes (a LocalCluster), synchronous, or a scheduler address",
                ),
                Key(
                    "n_workers",
                    "int",
                    None,
                    "threads or worker processes (null: one per core)",
                    nullable=True,
                    positive=True,
                ),
                Key(
                    "memory_limit",
                    "bytes",
                    None,
                    "memory per worker process, e.g. '4GB'",
                    nullable=True,
                ),
            ),
        ),
    ),
)

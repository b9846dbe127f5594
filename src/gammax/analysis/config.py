"""The analysis configuration: YAML in, validated values out.

:class:`AnalysisConfig` mirrors the sections of Gammapy's ``AnalysisConfig``
(``general``, ``observations``, ``datasets``, ``fit``, ``flux_points``,
``light_curve``, ``excess_map``) and adds ``models`` (the sky models to fit)
and ``compute`` (where the dask graphs run). Every value is checked against
:data:`gammax.analysis.schema.SCHEMA` when the configuration is built: an
unknown key, a value of the wrong type or unit, a choice that does not exist
or an impossible range raises :class:`~gammax.errors.ConfigError` naming the
key (with its section), what was given and what is valid.

Examples
--------
>>> config = AnalysisConfig.from_yaml('''
... datasets:
...   type: 1d
...   on_region: {lon: 83.63 deg, lat: 22.01 deg, radius: 0.11 deg}
... ''')
>>> config.datasets.type, config.datasets.on_region.radius
('1d', <Quantity 0.11 deg>)
>>> AnalysisConfig.from_yaml("datasets: {typ: 1d}")
Traceback (most recent call last):
...
gammax.errors.ConfigError: unknown key 'typ' in section 'datasets'; valid keys: type, stack, \
map_selection, containment_correction, geom, background, safe_mask, on_region. Did you mean 'type'?
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import astropy.units as u
import yaml

from ..errors import ConfigError
from .schema import SCHEMA, Key, Section, expand_path

__all__ = [
    "AnalysisConfig",
    "ConfigSection",
    "default_config_yaml",
    "documented_keys",
    "reference_rst",
    "schema_keys",
]


class ConfigSection:
    """Validated values of one section, as attributes (``config.fit.backend``)."""

    def __init__(self, section: Section, values: dict[str, Any], path: str) -> None:
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_path", path)
        data = {}
        for key in section.keys:
            data[key.name] = values[key.name]
        for sub in section.sections:
            data[sub.name] = ConfigSection(
                sub, values[sub.name], f"{path}.{sub.name}" if path else sub.name
            )
        object.__setattr__(self, "_values", data)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(
            f"section {self._path or 'top level'!r} has no key {name!r}; "
            f"valid keys: {', '.join(values)}"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("configurations are read-only; use AnalysisConfig.update()")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigSection) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"<ConfigSection {self._path or 'top level'}: {', '.join(self._values)}>"

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML data (quantities as strings such as ``"0.02 deg"``)."""
        return {k: _plain(v) for k, v in self._values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, ConfigSection):
        return value.to_dict()
    if isinstance(value, u.Quantity):
        unit = value.unit.to_string()
        number = value.value
        number = int(number) if float(number).is_integer() else float(number)
        return f"{number} {unit}".strip()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class AnalysisConfig(ConfigSection):
    """A validated analysis configuration.

    Parameters
    ----------
    data : dict, optional
        Nested mapping of sections, as in the YAML file; missing keys take their
        defaults.
    base : path-like, optional
        Directory relative paths of the configuration are resolved against
        (the YAML file's directory when read from a file).

    Raises
    ------
    ConfigError
        Naming the key and its section, the value given and the valid ones.
    """

    def __init__(self, data: dict[str, Any] | None = None, base: Any = None) -> None:
        values = SCHEMA.validate(data or {}, "")
        super().__init__(SCHEMA, values, "")
        object.__setattr__(self, "_base", None if base is None else Path(base))
        _check(self)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_yaml(cls, text: str, base: Any = None) -> AnalysisConfig:
        """Parse YAML text."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"the configuration is not valid YAML: {err}") from None
        if data is not None and not isinstance(data, dict):
            raise ConfigError(
                f"the configuration must be a mapping of sections, got {type(data).__name__}"
            )
        return cls(data or {}, base=base)

    @classmethod
    def read(cls, path: str | os.PathLike) -> AnalysisConfig:
        """Read a YAML file (errors name the file)."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError("configuration file not found", file=path) from None
        try:
            return cls.from_yaml(text, base=path.parent)
        except ConfigError as err:
            if err.file is not None:
                raise
            raise ConfigError(err.message, file=path) from None

    def to_yaml(self) -> str:
        """YAML text of every value (defaults included)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the YAML file."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise ConfigError("file exists (use overwrite=True)", file=path)
        path.write_text(self.to_yaml())

    def update(self, other: dict[str, Any] | str | AnalysisConfig) -> AnalysisConfig:
        """A new configuration with the values of ``other`` (mapping or YAML) merged in."""
        if isinstance(other, str):
            other = yaml.safe_load(other) or {}
        if isinstance(other, AnalysisConfig):
            other = other.to_dict()
        return AnalysisConfig(_merge(self.to_dict(), other), base=self._base)

    # ------------------------------------------------------------------ paths
    def resolve(self, path: str | os.PathLike) -> Path:
        """A path of the configuration: ``$VARS`` expanded, relative to the YAML file."""
        p = Path(expand_path(str(path)))
        if not p.is_absolute() and self._base is not None:
            p = self._base / p
        return p


def _range(section: ConfigSection, where: str, need_bins: bool = False) -> None:
    emin, emax = section.min, section.max
    if (emin is None) != (emax is None):
        raise ConfigError(f"{where}: give both min and max, or neither (min={emin}, max={emax})")
    if emin is not None and emin >= emax:
        raise ConfigError(
            f"{where}: min ({_plain(emin)}) must be below max ({_plain(emax)}); "
            "swap them or widen the range"
        )
    nbins = getattr(section, "nbins", None) if "nbins" in section._values else None
    if need_bins and emin is not None and nbins is None:
        raise ConfigError(f"{where}.nbins: needed with min and max")


def _check(config: AnalysisConfig) -> None:
    """Checks across keys: ranges, and which options go with which dataset type."""
    ds = config.datasets
    _range(ds.geom.axes.energy, "datasets.geom.axes.energy", need_bins=True)
    _range(ds.geom.axes.energy_true, "datasets.geom.axes.energy_true", need_bins=True)
    for name in ("energy", "energy_true"):
        axis = getattr(ds.geom.axes, name)
        if axis.min is None:
            raise ConfigError(f"datasets.geom.axes.{name}: min, max and nbins are required")
    _range(config.fit.fit_range, "fit.fit_range")
    _range(config.flux_points.energy, "flux_points.energy", need_bins=True)
    _range(config.light_curve.energy_edges, "light_curve.energy_edges")
    _range(config.excess_map.energy_edges, "excess_map.energy_edges")
    intervals = config.light_curve.time_intervals
    if len(intervals.start) != len(intervals.stop):
        raise ConfigError(
            "light_curve.time_intervals: start and stop must have the same length, got "
            f"{len(intervals.start)} and {len(intervals.stop)}"
        )
    from astropy.time import Time

    def _time(v):
        return Time(v, format="mjd") if isinstance(v, int | float) else Time(v)

    for i, (a, b) in enumerate(zip(intervals.start, intervals.stop, strict=True)):
        if _time(a) >= _time(b):
            raise ConfigError(
                f"light_curve.time_intervals: bin {i} starts ({a}) at or after it stops ({b})"
            )
    obs_time = config.observations.obs_time
    if obs_time.start is not None and obs_time.stop is not None:
        if _time(obs_time.start) >= _time(obs_time.stop):
            raise ConfigError(
                f"observations.obs_time: start ({obs_time.start}) must be before stop "
                f"({obs_time.stop})"
            )
    method = ds.background.method
    if ds.type == "3d" and method not in (None, "fov"):
        raise ConfigError(
            f"datasets.background.method: {method!r} is a 1D method; for type '3d' use null or "
            "'fov' (or set datasets.type: 1d)"
        )
    if ds.type == "1d":
        if method not in (None, "reflected", "wobble"):
            raise ConfigError(
                f"datasets.background.method: type '1d' needs 'reflected' or 'wobble' (or null: "
                "reflected), "
                f"got {method!r}"
            )
        if ds.on_region.radius is None or ds.on_region.lon is None or ds.on_region.lat is None:
            raise ConfigError(
                "datasets.on_region: type '1d' needs lon, lat and radius of the ON region"
            )
        if "offset-max" in ds.safe_mask.methods:
            raise ConfigError(
                "datasets.safe_mask.methods: 'offset-max' has no meaning for type '1d'"
            )
    if ds.background.exclusion is not None:
        _check_regions(ds.background.exclusion, "datasets.background.exclusion")
    cone = config.observations.obs_cone
    given = [cone.lon is not None, cone.lat is not None, cone.radius is not None]
    if any(given) and not all(given):
        raise ConfigError("observations.obs_cone: give lon, lat and radius, or none of them")
    models = config.models
    if models.file is not None and models.components is not None:
        raise ConfigError("models: give either file or components, not both")
    if ds.type == "3d" and ds.geom.wcs.skydir.lon is None and ds.on_region.lon is None:
        if (ds.geom.wcs.skydir.lat is None) != (ds.geom.wcs.skydir.lon is None):
            raise ConfigError("datasets.geom.wcs.skydir: give both lon and lat")


def _check_regions(text: str, where: str) -> None:
    """A DS9 region string must give at least one region (regions only warns otherwise)."""
    import logging
    import warnings

    from regions import Regions

    logger = logging.getLogger("astropy")
    level = logger.level
    try:
        logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = Regions.parse(text, format="ds9")
    except Exception as err:
        raise ConfigError(f"{where}: cannot read {text!r} as DS9 regions: {err}") from None
    finally:
        logger.setLevel(level)
    if len(parsed) == 0:
        raise ConfigError(
            f"{where}: no region in {text!r}; write e.g. 'icrs; circle(83.63, 22.01, 0.3)'"
        )


def _yaml_scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _render(section: Section, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    for key in section.keys:
        lines.append(f"{pad}# {key.doc} [{key.type_text}]")
        lines.append(f"{pad}{key.name}: {_yaml_scalar(key.default)}")
    for sub in section.sections:
        lines.append(f"{pad}# {sub.doc}")
        lines.append(f"{pad}{sub.name}:")
        _render(sub, indent + 1, lines)


def default_config_yaml() -> str:
    """The commented default configuration (what ``gammax config`` writes).

    Examples
    --------
    >>> text = default_config_yaml()
    >>> AnalysisConfig.from_yaml(text) == AnalysisConfig()
    True
    """
    lines = [
        "# gammax analysis configuration: every key with its default value.",
        "# Run it with:  gammax run THIS_FILE.yaml",
        "# Reference:  docs/config_reference.rst",
    ]
    for sub in SCHEMA.sections:
        lines.append("")
        lines.append(f"# {sub.doc}")
        lines.append(f"{sub.name}:")
        _render(sub, 1, lines)
    return "\n".join(lines) + "\n"


def reference_rst() -> str:
    """The reStructuredText of every section and key (the configuration reference)."""
    out = []
    for path, key in SCHEMA.walk():
        out.append((path, key))
    lines = []
    current = None
    for path, key in out:
        section = path.rsplit(".", 1)[0]
        if section != current:
            current = section
            lines += ["", f"``{section}``", "~" * (len(section) + 4), ""]
            lines += [f"{SCHEMA.find(section).doc}.", ""]
            lines += [".. list-table::", "   :header-rows: 1", "   :widths: 22 18 60", ""]
            lines += ["   * - key", "     - default", "     - meaning"]
        default = _yaml_scalar(key.default)
        lines += [
            f"   * - ``{key.name}``",
            f"     - ``{default}``",
            f"     - {key.doc} [{key.type_text}]",
        ]
    return "\n".join(lines).lstrip("\n") + "\n"


def documented_keys(text: str) -> set[str]:
    """Dotted keys a configuration reference documents (used to check the docs)."""
    keys = set()
    section = None
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("``") and line.endswith("``") and " " not in line:
            section = line.strip("`")
        elif line.startswith("   * - ``") and section is not None:
            keys.add(f"{section}.{line.split('``')[1]}")
    return keys


def schema_keys() -> set[str]:
    """Dotted names of every key of the schema."""
    return {path for path, _ in SCHEMA.walk()}


def _key(path: str) -> Key:  # pragma: no cover - convenience
    node = SCHEMA.find(path)
    assert isinstance(node, Key)
    return node

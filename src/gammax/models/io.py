"""Model YAML files, compatible with Gammapy's ``Models.read`` / ``Models.write``.

The file holds ``components`` (one entry per sky / background model, with
Gammapy's tags, parameter fields, ``frame``, ``datasets_names``, ...), and
optionally ``covariance``: the name of Gammapy's ``<stem>_covariance.dat``
table next to it. Template files (``filename:``) are resolved relative to the
YAML file first.

Mistakes in a file raise :class:`~gammax.errors.FormatError` (or
:class:`~gammax.errors.UnitError` for units) naming the file, the place in it
(e.g. ``components[1] ('crab').spectral``), the offending key and the valid
choices: unknown ``type`` tags (with the closest match), missing or unknown
parameters, unknown parameter fields, bad units, bad frames.

Examples
--------
>>> from gammax.models import Models, SkyModel, PowerLawSpectralModel
>>> text = to_yaml(Models([SkyModel(PowerLawSpectralModel(), name="src")]))
>>> print(text.splitlines()[1])
-   name: src
>>> from_yaml(text)["src"].spectral_model.index.value
2.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from ..errors import ConfigError, FormatError, UnitError
from .collection import Models
from .covariance import Covariance, read_covariance_table, write_covariance_table
from .parameters import Parameter
from .priors import prior_from_dict
from .registry import get_model_class

__all__ = [
    "from_yaml",
    "model_from_dict",
    "models_from_dict",
    "read_models",
    "to_yaml",
    "write_models",
]

_YAML_FORMAT = {"sort_keys": False, "indent": 4, "width": 80, "default_flow_style": False}

#: Fields a parameter entry may have (Gammapy's vocabulary).
PARAMETER_FIELDS = (
    "name",
    "value",
    "unit",
    "error",
    "min",
    "max",
    "frozen",
    "interp",
    "scale_method",
    "scale_transform",
    "is_norm",
    "link",
    "prior",
    "scale",
)


# -- parameters --------------------------------------------------------------------------
def _float(value: Any, what: str, file: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FormatError(f"{what} is {value!r}; expected a number", file=file) from None


def parameter_from_dict(
    data: Mapping[str, Any], default: Parameter, where: str, file: Any = None
) -> Parameter:
    """A parameter from its YAML entry, starting from the class default."""
    name = default.name
    here = f"{where} parameter {name!r}"
    unknown = sorted(set(data) - set(PARAMETER_FIELDS))
    if unknown:
        raise FormatError(
            f"{here} has unknown field(s) {unknown}; valid fields are {list(PARAMETER_FIELDS)}",
            file=file,
        )
    par = default.copy()
    if "unit" in data and data["unit"] is not None:
        try:
            unit = u.Unit(str(data["unit"]).strip() or "", parse_strict="raise")
        except ValueError:
            raise UnitError(
                f"{here}: cannot parse unit {data['unit']!r}; expected a unit like "
                f"{default.unit or 'dimensionless (empty)'!r}",
                file=file,
            ) from None
        if not unit.is_equivalent(u.Unit(default.unit)):
            raise UnitError(
                f"{here}: unit {data['unit']!r} is not compatible with the expected unit "
                f"{default.unit or 'dimensionless'!r}",
                file=file,
            )
        par.unit = unit.to_string()
    if "value" in data:
        par.value = _float(data["value"], f"{here} 'value'", file)
    for key in ("min", "max", "error"):
        if key in data:
            setattr(par, key, _float(data[key], f"{here} {key!r}", file))
    if "frozen" in data:
        if not isinstance(data["frozen"], bool):
            raise FormatError(
                f"{here} 'frozen' is {data['frozen']!r}; expected true or false", file=file
            )
        par.frozen = data["frozen"]
    for key in ("interp", "scale_transform"):
        if key in data:
            setattr(par, key, str(data[key]))
    if "scale_method" in data:
        par.scale_method = data["scale_method"]
    if data.get("link"):
        par.link = str(data["link"])
    if data.get("prior"):
        try:
            par.prior = prior_from_dict(data["prior"])
        except ConfigError as err:
            raise FormatError(f"{here} 'prior': {err}", file=file) from None
    if data.get("is_norm"):
        par.is_norm = True
    if "scale" in data:
        par.scale = _float(data["scale"], f"{here} 'scale'", file)
    else:
        par.autoscale()
    return par


def parameters_from_list(
    cls: type, entries: Any, where: str = "", file: Any = None, **_: Any
) -> dict[str, Parameter]:
    """Parameters of ``cls`` from a YAML ``parameters`` list, checking names.

    Raises
    ------
    FormatError
        For a parameter missing (unless Gammapy itself omits it) or unknown.
    """
    where = where or cls.tag[0]
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise FormatError(
            f"{where} 'parameters' must be a list, got {type(entries).__name__}", file=file
        )
    expected = [p.name for p in cls._defaults]
    given: dict[str, Mapping] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise FormatError(f"{where}: every parameter needs a 'name'; got {entry!r}", file=file)
        if entry["name"] not in expected:
            raise FormatError(
                f"{where}: unknown parameter {entry['name']!r} for {cls.tag[0]}; "
                f"expected parameters are {expected}",
                file=file,
            )
        given[entry["name"]] = entry
    missing = [n for n in expected if n not in given and n not in cls._optional_in_file]
    if missing:
        raise FormatError(
            f"{where}: parameter(s) {missing} missing for {cls.tag[0]}; expected parameters "
            f"are {expected}",
            file=file,
        )
    return {
        p.name: parameter_from_dict(given[p.name], p, where, file)
        for p in cls._defaults
        if p.name in given
    }


def quantity_from_dict(data: Any, where: str, file: Any = None) -> u.Quantity:
    """``{"data": [...], "unit": "..."}`` as a Quantity."""
    if not isinstance(data, Mapping) or "data" not in data:
        raise FormatError(f"{where} must have 'data' and 'unit', got {data!r}", file=file)
    try:
        unit = u.Unit(data.get("unit", "") or "", parse_strict="raise")
    except ValueError:
        raise UnitError(f"{where}: cannot parse unit {data.get('unit')!r}", file=file) from None
    return u.Quantity(np.asarray(data["data"], dtype=float), unit)


def resolve_path(filename: Any, base: Any, where: str, file: Any = None) -> Path:
    """A file named in the YAML: relative to the YAML's folder if it exists there."""
    path = Path(os.path.expandvars(str(filename)))
    if base is not None and not path.is_absolute() and (Path(base) / path).exists():
        return Path(base) / path
    if path.exists():
        return path
    from ..errors import DataFileNotFoundError

    raise DataFileNotFoundError(
        f"{where}: file {str(filename)!r} not found (looked next to the YAML file and in the "
        "current directory)",
        file=file,
    )


# -- components ---------------------------------------------------------------------------
def _component(kind: str, data: Any, where: str, file: Any, base: Any):
    if not isinstance(data, Mapping):
        raise FormatError(f"{where} must be a mapping, got {type(data).__name__}", file=file)
    cls = get_model_class(kind, data.get("type"), where, file)
    try:
        return cls.from_dict(data, where=where, file=file, base=base)
    except ConfigError as err:
        if isinstance(err, FormatError):
            raise
        raise FormatError(f"{where}: {err}", file=file) from None


def spectral_from_dict(data: Any, where: str = "spectral", file: Any = None, base: Any = None, **_):
    """A spectral model from its YAML form."""
    return _component("spectral", data, where, file, base)


def spatial_from_dict(data: Any, where: str = "spatial", file: Any = None, base: Any = None, **_):
    """A spatial model from its YAML form."""
    return _component("spatial", data, where, file, base)


def temporal_from_dict(data: Any, where: str = "temporal", file: Any = None, base: Any = None, **_):
    """A temporal model from its YAML form."""
    return _component("temporal", data, where, file, base)


def _require(data: Mapping, key: str, where: str, file: Any, why: str) -> Any:
    if key not in data or data[key] is None:
        raise FormatError(f"{where} lacks {key!r}; {why}", file=file)
    return data[key]


def model_from_dict(data: Any, where: str = "component", file: Any = None, base: Any = None):
    """One component of ``components`` (SkyModel, FoVBackgroundModel or TemplateNPredModel)."""
    from .sky import FoVBackgroundModel, SkyModel, TemplateNPredModel

    if not isinstance(data, Mapping):
        raise FormatError(f"{where} must be a mapping, got {type(data).__name__}", file=file)
    cls = get_model_class("sky", data.get("type"), where, file)
    if "name" in data:
        where = f"{where} ({data['name']!r})"
    parts = {}
    for kind, reader in (
        ("spectral", spectral_from_dict),
        ("spatial", spatial_from_dict),
        ("temporal", temporal_from_dict),
    ):
        if data.get(kind) is not None:
            parts[kind] = reader(data[kind], f"{where}.{kind}", file, base)
    try:
        if cls is SkyModel:
            name = _require(data, "name", where, file, "every SkyModel needs a unique name")
            _require(data, "spectral", where, file, "every SkyModel needs a spectral model")
            return SkyModel(
                parts["spectral"],
                parts.get("spatial"),
                parts.get("temporal"),
                name=str(name),
                apply_irf=data.get("apply_irf"),
                datasets_names=data.get("datasets_names"),
            )
        if cls is FoVBackgroundModel:
            names = _require(
                data, "datasets_names", where, file, "a FoVBackgroundModel names its dataset"
            )
            if not isinstance(names, list) or len(names) != 1:
                raise FormatError(
                    f"{where} 'datasets_names' must list exactly one dataset, got {names!r}",
                    file=file,
                )
            return FoVBackgroundModel(
                names[0], parts.get("spectral"), parts.get("spatial"), name=data.get("name")
            )
        filename = _require(data, "filename", where, file, "a TemplateNPredModel needs its map")
        from ..geom.fits import read_map

        path = resolve_path(filename, base, where, file)
        return TemplateNPredModel(
            read_map(path),
            parts.get("spectral"),
            name=data.get("name"),
            filename=str(path),
            datasets_names=data.get("datasets_names"),
            spatial_model=parts.get("spatial"),
        )
    except ConfigError as err:
        if isinstance(err, FormatError):
            raise
        raise FormatError(f"{where}: {err}", file=file) from None


def models_from_dict(data: Any, base: Any = None, file: Any = None) -> Models:
    """A :class:`Models` from the parsed YAML mapping (``components`` and ``covariance``)."""
    if not isinstance(data, Mapping) or "components" not in data:
        keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        hint = ""
        if isinstance(data, Mapping) and "datasets" in data:
            hint = "; this looks like a Gammapy *datasets* file, not a models file"
        raise FormatError(
            f"a model file has a top-level 'components' list; got {keys}{hint}", file=file
        )
    components = data["components"]
    if not isinstance(components, list):
        raise FormatError("'components' must be a list of models", file=file)
    models = [model_from_dict(c, f"components[{i}]", file, base) for i, c in enumerate(components)]
    try:
        out = Models(models)
    except ConfigError as err:
        raise FormatError(str(err), file=file) from None
    if data.get("covariance"):
        path = Path(base or ".") / str(data["covariance"])
        if not path.exists():
            path = Path(str(data["covariance"]))
        if not path.exists():
            from ..errors import DataFileNotFoundError

            raise DataFileNotFoundError(
                f"the covariance file {str(data['covariance'])!r} named under 'covariance' "
                "was not found next to the YAML file",
                file=file,
            )
        _set_covariance(out, path)
    return out


def _set_covariance(models: Models, path: Path) -> None:
    names, data = read_covariance_table(path)
    occurrences = [(key, path_) for key, path_, _ in models.parameter_items()]
    if len(names) != len(occurrences):
        raise FormatError(
            f"covariance table has {len(names)} parameters, the models have {len(occurrences)}",
            file=path,
        )
    first: dict[str, int] = {}
    for idx, (key, _) in enumerate(occurrences):
        first.setdefault(key, idx)
    idx = list(first.values())
    models.covariance = Covariance(list(first), data[np.ix_(idx, idx)])


# -- files ---------------------------------------------------------------------------------
def read_models(path: Any) -> Models:
    """Read a model YAML file (Gammapy's format), with its covariance if referenced.

    Examples
    --------
    >>> models = read_models("Fermi-LAT-3FHL_models.yaml")  # doctest: +SKIP
    """
    import yaml

    path = Path(path)
    if not path.exists():
        from ..errors import DataFileNotFoundError

        raise DataFileNotFoundError("model file not found", file=path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FormatError(f"not valid YAML: {err}", file=path) from None
    return models_from_dict(data, base=path.parent, file=path)


def from_yaml(text: str, base: Any = None) -> Models:
    """Models from YAML text (files named in it are looked up in ``base``)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise FormatError(f"not valid YAML: {err}") from None
    return models_from_dict(data, base=base)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def to_yaml(models: Models, full_output: bool = False, covariance: str | None = None) -> str:
    """YAML text of a collection (Gammapy's layout)."""
    import yaml

    from .. import __version__

    data = models.to_dict(full_output)
    if covariance is not None:
        data["covariance"] = covariance
    data["metadata"] = {"creator": f"gammax {__version__}"}
    return yaml.safe_dump(_plain(data), **_YAML_FORMAT)


def write_models(
    models: Models,
    path: Any,
    overwrite: bool = False,
    full_output: bool = False,
    write_covariance: bool = True,
    overwrite_templates: bool = False,
) -> None:
    """Write a collection as Gammapy-compatible YAML (plus covariance and templates).

    The covariance goes to ``<stem>_covariance.dat`` next to the file (one
    row per parameter occurrence, named ``<model>.<component>.<par>``).
    Template models without a file get ``<stem>_<model>.fits`` (light curves
    ``<stem>_<model>_lc.fits``); existing template files are kept unless
    ``overwrite_templates``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    base = path.parent
    _write_templates(models, path, overwrite_templates)
    saved = {}
    for model in _templates(models):
        if model.filename and Path(model.filename).parent.resolve() == base.resolve():
            saved[id(model)] = model.filename
            object.__setattr__(model, "filename", Path(model.filename).name)
    cov_name = None
    try:
        if write_covariance and len(models.parameter_items()):
            cov_name = f"{path.stem}_covariance.dat"
            cov = models.covariance
            items = models.parameter_items()
            keys = [k for k, _, _ in items]
            idx = [cov.names.index(k) for k in keys]
            write_covariance_table(
                base / cov_name, [p for _, p, _ in items], cov.data[np.ix_(idx, idx)], overwrite
            )
        path.write_text(to_yaml(models, full_output, cov_name))
    finally:
        for model in _templates(models):
            if id(model) in saved:
                object.__setattr__(model, "filename", saved[id(model)])


def _templates(models: Models):
    for model in models:
        for part in (model, *(m for _, m in model._parts())):
            if hasattr(part, "write") and hasattr(part, "filename"):
                yield part


def _write_templates(models: Models, path: Path, overwrite: bool) -> None:
    for model in models:
        parts = [(model.name, model), *((f"{model.name}_{k}", m) for k, m in model._parts())]
        for label, part in parts:
            if not (hasattr(part, "write") and hasattr(part, "filename")):
                continue
            if part.filename is None:
                suffix = "_lc.fits" if part.kind == "temporal" else ".fits"
                part.write(path.parent / f"{path.stem}_{label}{suffix}", overwrite=overwrite)
            elif overwrite or not Path(part.filename).exists():
                part.write(part.filename, overwrite=True)

"""Model classes by Gammapy YAML tag (``type:``), with helpful errors for unknown tags.

Each model class declares ``tag``: Gammapy's long and short names, e.g.
``("PowerLawSpectralModel", "pl")``. Lookups are exact first, then
case-insensitive (so ``"PL"`` finds ``"pl"``).

Examples
--------
>>> get_model_class("spectral", "pl").__name__
'PowerLawSpectralModel'
>>> get_model_class("spectral", "PowerLow")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
gammax.errors.FormatError: unknown spectral model type 'PowerLow'; did you mean ...
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import FormatError

__all__ = [
    "KINDS",
    "UNSUPPORTED_GAMMAPY_TAGS",
    "get_model_class",
    "register",
    "registry",
    "unknown_tag_message",
]

#: Model kinds, i.e. the registries.
KINDS = ("spectral", "spatial", "temporal", "sky")

_REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}

#: Gammapy tags that gammax knows of but does not implement (yet), by kind.
UNSUPPORTED_GAMMAPY_TAGS: dict[str, tuple[str, ...]] = {
    "spectral": (
        "EBLAbsorptionNormSpectralModel",
        "ebl-norm",
        "NaimaSpectralModel",
        "naima",
        "ScaleSpectralModel",
        "scale",
        "TemplateNDSpectralModel",
        "templateND",
    ),
    "spatial": (
        "TemplateNDSpatialModel",
        "templateND",
        "PiecewiseNormSpatialModel",
        "piecewise-norm",
    ),
    "temporal": ("TemplatePhaseCurveTemporalModel", "template-phase"),
    "sky": (),
}


def register(kind: str):
    """Class decorator adding a model class to the registry of ``kind``."""

    def deco(cls: type) -> type:
        for tag in cls.tag:
            _REGISTRY[kind][tag] = cls
        return cls

    return deco


def registry(kind: str) -> dict[str, type]:
    """Mapping tag -> class of one kind (every long and short tag)."""
    _load()
    return dict(_REGISTRY[kind])


def _load() -> None:
    # Importing the modules registers the classes.
    from . import (  # noqa: F401
        sky,
        spatial_models,
        spatial_template,
        spectral_cutoff,
        spectral_norm,
        spectral_powerlaw,
        spectral_template,
        temporal,
        temporal_template,
    )


def unknown_tag_message(kind: str, tag: Any, valid: Iterable[str], where: str = "") -> str:
    """Error message for an unknown ``type``: the closest valid tag and all of them."""
    valid = sorted(set(valid), key=str.lower)
    place = f" in {where}" if where else ""
    if tag is None:
        return f"{kind} model{place} has no 'type' key; valid types are: {', '.join(valid)}"
    text = f"unknown {kind} model type {tag!r}{place}"
    if str(tag) in UNSUPPORTED_GAMMAPY_TAGS.get(kind, ()):
        text = (
            f"{kind} model type {tag!r}{place} is a Gammapy model that gammax does not support yet"
        )
    close = difflib.get_close_matches(str(tag), valid, n=3, cutoff=0.5)
    if not close:
        lower = {v.lower(): v for v in valid}
        close = [lower[c] for c in difflib.get_close_matches(str(tag).lower(), lower, n=3)]
    if close:
        text += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return text + f" Valid 'type' values are: {', '.join(valid)}"


def get_model_class(
    kind: str, tag: Any, where: str = "", file: Any = None, registry_: Mapping | None = None
) -> type:
    """The model class of ``kind`` for a YAML ``type`` tag.

    Raises
    ------
    gammax.errors.FormatError
        If the tag is unknown; the message names the closest tag and lists all.
    """
    table = registry(kind) if registry_ is None else dict(registry_)
    if tag in table:
        return table[tag]
    if isinstance(tag, str):
        matches = {cls for t, cls in table.items() if t.lower() == tag.lower()}
        if len(matches) == 1:
            return matches.pop()
    raise FormatError(unknown_tag_message(kind, tag, table, where), file=file)

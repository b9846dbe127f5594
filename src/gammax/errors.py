"""The gammax exception hierarchy.

Every error gammax raises on purpose derives from :class:`GammaxError` *and* from
the matching built-in exception, so that ``except FileNotFoundError`` keeps
working. Errors about a file carry its path, HDU and observation, both as
attributes and in the message.

Examples
--------
>>> try:
...     raise DataFileNotFoundError("no such file", file="run.fits", hdu="EVENTS", obs_id=1)
... except FileNotFoundError as err:
...     print(err)
no such file [file 'run.fits', HDU 'EVENTS', obs_id 1]
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "ConfigError",
    "CorruptFileError",
    "DataFileNotFoundError",
    "ExtrapolationError",
    "FormatError",
    "GammaxError",
    "GeometryError",
    "HDUNotFoundError",
    "InvalidIRFError",
    "MissingColumnError",
    "ObservationNotFoundError",
    "SelectionError",
    "UnitError",
    "UnknownHDUClassError",
]


def describe_location(
    file: str | PathLike | None = None,
    hdu: str | int | None = None,
    obs_id: int | None = None,
) -> str:
    """Format where a problem is, e.g. ``"file 'a.fits', HDU 'EVENTS', obs_id 3"``."""
    parts = []
    if file is not None:
        parts.append(f"file '{file}'")
    if hdu is not None:
        parts.append(f"HDU '{hdu}'" if isinstance(hdu, str) else f"HDU {hdu}")
    if obs_id is not None:
        parts.append(f"obs_id {obs_id}")
    return ", ".join(parts)


class GammaxError(Exception):
    """Base class of all gammax errors.

    Parameters
    ----------
    message : str
        What was given, what was expected and, where it helps, what to do.
    file, hdu, obs_id : optional
        Where the problem is. They are appended to the message.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike | None = None,
        hdu: str | int | None = None,
        obs_id: int | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.hdu = hdu
        self.obs_id = obs_id
        where = describe_location(self.file, hdu, obs_id)
        super().__init__(f"{message} [{where}]" if where else message)

    def __reduce__(self):
        # Keep the keyword-only context when the error travels between dask workers.
        return (
            _rebuild_error,
            (type(self), self.message, self.file, self.hdu, self.obs_id),
        )


def _rebuild_error(cls, message, file, hdu, obs_id):
    return cls(message, file=file, hdu=hdu, obs_id=obs_id)


class DataFileNotFoundError(GammaxError, FileNotFoundError):
    """A data file named by an index or a user does not exist."""


class HDUNotFoundError(GammaxError, LookupError):
    """A file exists but lacks the HDU an index or a user asked for."""


class ObservationNotFoundError(GammaxError, LookupError):
    """An observation id is not in the data store (or lacks the requested HDU type)."""


class CorruptFileError(GammaxError, OSError):
    """A file cannot be decoded: truncated gzip stream, broken FITS structure."""


class FormatError(GammaxError, ValueError):
    """A file is readable but does not follow the format specification."""


class MissingColumnError(FormatError):
    """A table lacks a column its HDU class requires."""


class UnknownHDUClassError(FormatError):
    """An HDU class (index ``HDU_CLASS`` or ``HDUCLASn`` keywords) gammax does not know."""


class InvalidIRFError(FormatError):
    """An instrument response holds invalid values (NaN, infinite)."""


class UnitError(GammaxError, ValueError):
    """A unit string cannot be parsed, or a quantity has an incompatible unit."""


class ExtrapolationError(GammaxError, ValueError):
    """A coordinate lies outside an IRF axis and extrapolation was not allowed."""


class SelectionError(GammaxError, ValueError):
    """An observation selection cannot be applied (unknown column, bad range)."""


class GeometryError(GammaxError, ValueError):
    """A sky geometry or axis definition is invalid or inconsistent."""


class ConfigError(GammaxError, ValueError):
    """A configuration key or value is invalid."""

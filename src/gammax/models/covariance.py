"""Parameter covariance, keyed by parameter key, and Gammapy's covariance file.

Gammapy writes a model collection's covariance next to the YAML file, as
``<stem>_covariance.dat`` (an ``ascii.fixed_width`` table with ``|``
delimiters, a ``Parameters`` column of ``<model>.<component>.<par>`` names and
one column per parameter), and names it under the YAML key ``covariance``.
Its matrix has one row per parameter *occurrence* (linked parameters repeat).

Examples
--------
>>> cov = Covariance(("a", "b"), [[4.0, 1.0], [1.0, 9.0]])
>>> cov.errors
array([2., 3.])
>>> cov.correlation[0, 1].round(4)
np.float64(0.1667)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, FormatError

__all__ = ["Covariance", "read_covariance_table", "write_covariance_table"]


class Covariance:
    """A covariance matrix over named parameters (values, not factors).

    Parameters
    ----------
    names : sequence of str
        Parameter keys, one per row.
    data : array-like
        Square matrix, ``len(names)`` on a side.
    """

    def __init__(self, names: Sequence[str], data: Any) -> None:
        self.names = tuple(str(n) for n in names)
        data = np.array(data, dtype=float)
        n = len(self.names)
        if data.shape != (n, n):
            raise ConfigError(f"covariance of shape {data.shape} for {n} parameters {self.names}")
        if len(set(self.names)) != n:
            raise ConfigError(f"covariance names must be unique, got {self.names}")
        self.data = data

    @classmethod
    def from_errors(cls, errors: Mapping[str, float]) -> Covariance:
        """Diagonal covariance from 1-sigma errors."""
        names = list(errors)
        return cls(names, np.diag([float(errors[n]) ** 2 for n in names]))

    @property
    def errors(self) -> np.ndarray:
        """Square roots of the diagonal."""
        return np.sqrt(np.clip(np.diag(self.data), 0, None))

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix (0 where an error is 0)."""
        err = self.errors
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = self.data / np.outer(err, err)
        return np.nan_to_num(corr)

    def subset(self, names: Sequence[str]) -> Covariance:
        """The sub-matrix of ``names`` (in that order)."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise KeyError(f"covariance has no parameter {missing}; it has {list(self.names)}")
        idx = [self.names.index(n) for n in names]
        return Covariance(names, self.data[np.ix_(idx, idx)])

    def merged(self, other: Covariance) -> Covariance:
        """Copy with the block of ``other`` set (rows/columns of its names replaced)."""
        data = self.data.copy()
        idx = [self.names.index(n) for n in other.names if n in self.names]
        own = [i for i, n in enumerate(other.names) if n in self.names]
        data[idx, :] = 0.0
        data[:, idx] = 0.0
        data[np.ix_(idx, idx)] = other.data[np.ix_(own, own)]
        return Covariance(self.names, data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Covariance):
            return NotImplemented
        return self.names == other.names and np.array_equal(self.data, other.data)

    __hash__ = None

    def __dask_tokenize__(self):
        from dask.base import tokenize

        return ("gammax.Covariance", self.names, tokenize(self.data))

    def __repr__(self) -> str:
        return f"Covariance({len(self.names)} parameters)"


def write_covariance_table(
    path: str | Path, row_names: Sequence[str], data: np.ndarray, overwrite: bool = False
) -> None:
    """Write Gammapy's covariance file (``ascii.fixed_width``, ``|`` delimiter)."""
    from astropy.table import Table

    table = Table()
    table["Parameters"] = list(row_names)
    for idx in range(len(row_names)):
        table[str(idx)] = np.asarray(data[idx], dtype=float)
    table.write(str(path), format="ascii.fixed_width", delimiter="|", overwrite=overwrite)


def read_covariance_table(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read Gammapy's covariance file: row names and the square matrix."""
    from astropy.table import Table

    try:
        table = Table.read(str(path), format="ascii.fixed_width", delimiter="|")
    except FileNotFoundError:
        raise
    except Exception as err:  # astropy raises several types for malformed tables
        raise FormatError(f"cannot read the covariance table: {err}", file=path) from err
    if "Parameters" not in table.colnames:
        raise FormatError(
            f"covariance table lacks the 'Parameters' column; columns are {table.colnames}",
            file=path,
        )
    names = [str(n) for n in table["Parameters"]]
    cols = [c for c in table.colnames if c != "Parameters"]
    data = np.array([np.asarray(table[c], dtype=float) for c in cols]).T
    if data.shape != (len(names), len(names)):
        raise FormatError(
            f"covariance table is {data.shape}, expected {len(names)} x {len(names)}", file=path
        )
    return names, data

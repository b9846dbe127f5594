"""The ``gammax`` command.

``gammax info PATH``
    Summarise a data store: observations, targets, pointing, livetime, HDUs.
``gammax check PATH``
    Validate every file and HDU of a data store and list all problems.

Exit codes: 0 success; 1 ``check`` found problems; 2 the input could not be
used (missing path, malformed index, bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import GammaxError

__all__ = ["main"]


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="data store directory, index file or directory of DL3 files")
    parser.add_argument("--hdu-index", help="HDU index file name (default: hdu-index.fits[.gz])")
    parser.add_argument("--obs-index", help="observation index file name")
    parser.add_argument(
        "--index-hdu", default="1", help="HDU of the HDU index file to read (HAWC: 1-9)"
    )


def _open(args: argparse.Namespace):
    from .data import open_datastore

    index_hdu = int(args.index_hdu) if str(args.index_hdu).isdigit() else args.index_hdu
    return open_datastore(
        args.path, hdu_index=args.hdu_index, obs_index=args.obs_index, index_hdu=index_hdu
    )


def _cmd_info(args: argparse.Namespace) -> int:
    store = _open(args)
    print(store.summary())
    if args.observations:
        table = store.obs_table.to_dataframe()
        print(table.to_string(max_rows=None if args.observations == "all" else 20))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    store = _open(args)
    report = store.check(read_data=not args.headers_only)
    if len(report) == 0:
        print(f"{store.root}: {len(store)} observations, no problems found")
        return 0
    import pandas as pd

    with pd.option_context("display.max_colwidth", 120, "display.width", 250):
        print(report.to_string(index=False))
    n_obs = report["obs_id"].nunique()
    print(f"\n{len(report)} problem(s) in {n_obs} observation(s) of {len(store)}")
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gammax`` command."""
    parser = argparse.ArgumentParser(
        prog="gammax", description="Gamma-ray astronomy on xarray, dask and zarr."
    )
    parser.add_argument("--version", action="version", version=f"gammax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="summarise a data store")
    _add_store_arguments(info)
    info.add_argument(
        "--observations",
        nargs="?",
        const="head",
        choices=["head", "all"],
        help="also print the observation table (first 20 rows, or all)",
    )
    info.set_defaults(func=_cmd_info)

    check = sub.add_parser("check", help="validate a data store, listing every problem")
    _add_store_arguments(check)
    check.add_argument(
        "--headers-only", action="store_true", help="check files and headers, not table data"
    )
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gammax`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GammaxError as err:
        print(f"gammax {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

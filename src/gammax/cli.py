"""The ``gammax`` command.

``gammax info PATH``
    Summarise a data store: observations, targets, pointing, livetime, HDUs.
``gammax check PATH``
    Validate every file and HDU of a data store and list all problems.
``gammax config [-o FILE]``
    Write the commented default analysis configuration (stdout by default).
``gammax run CONFIG.yaml [--output DIR] [--scheduler ADDRESS]``
    Run the analysis of a configuration (see :mod:`gammax.analysis`).
``gammax demo [--output DIR]``
    Simulate a small archive with the analytic instrument and analyse it in
    3D and 1D.

Exit codes: 0 success; 1 failure (``check`` found problems, an analysis step
failed or a fit did not converge); 2 the input could not be used (missing
path, malformed index, invalid configuration, bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import ConfigError, GammaxError

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


def _config_overrides(args: argparse.Namespace) -> dict:
    general: dict = {}
    if getattr(args, "output", None):
        general["outdir"] = str(args.output)
    if getattr(args, "overwrite", False):
        general["overwrite"] = True
    if getattr(args, "no_progress", False):
        general["progress"] = False
    if getattr(args, "steps", None):
        general["steps"] = args.steps
    out: dict = {"general": general} if general else {}
    if getattr(args, "scheduler", None):
        out["compute"] = {"scheduler": args.scheduler}
    return out


def _fit_ok(summary: dict) -> bool:
    """Whether the fit (if any) converged and every plot was made."""
    fit = summary.get("fit")
    if fit is not None and not fit["success"]:
        print(f"gammax: the fit did not converge: {fit['message']}", file=sys.stderr)
    for name, message in summary.get("plot_errors", {}).items():
        print(f"gammax: plot {name} failed: {message}", file=sys.stderr)
    return (fit is None or bool(fit["success"])) and not summary.get("plot_errors")


def _cmd_config(args: argparse.Namespace) -> int:
    from .analysis.config import default_config_yaml

    text = default_config_yaml()
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    from pathlib import Path

    path = Path(args.output)
    if path.exists() and not args.overwrite:
        raise ConfigError("file exists (use --overwrite)", file=path)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def _log_to_stderr(level: str) -> None:
    """Messages of the ``gammax`` loggers at ``level`` and above go to stderr."""
    import logging

    class StderrHandler(logging.Handler):
        # writes to the current sys.stderr (which tests and notebooks may replace)
        gammax_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(self.format(record) + "\n")

    logger = logging.getLogger("gammax")
    logger.setLevel(level.upper())
    if not any(getattr(h, "gammax_cli", False) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("[%(name)s] %(levelname)s: %(message)s"))
        logger.addHandler(handler)


def _cmd_run(args: argparse.Namespace) -> int:
    from .analysis import Analysis, AnalysisConfig
    from .analysis.outputs import format_summary

    config = AnalysisConfig.read(args.config)
    overrides = _config_overrides(args)
    if overrides:
        config = config.update(overrides)
    _log_to_stderr(config.general.log_level)
    summary = Analysis(config).run()
    print(format_summary(summary))
    if not _fit_ok(summary):
        return 1
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import time

    from .analysis.demo import run_demo

    _log_to_stderr("warning")
    t0 = time.perf_counter()
    client = None
    if args.scheduler:
        from .analysis.compute import compute_context
        from .analysis.config import AnalysisConfig

        compute = AnalysisConfig({"compute": {"scheduler": args.scheduler}}).compute
        with compute_context(compute) as client:
            result = run_demo(
                args.output, n_obs=args.n_obs, progress=not args.no_progress, client=client
            )
    else:
        result = run_demo(args.output, n_obs=args.n_obs, progress=not args.no_progress)
    print(f"demo done in {time.perf_counter() - t0:.1f} s; outputs in {args.output}")
    ok = _fit_ok(result["3d"]) and _fit_ok(result["1d"])
    return 0 if ok else 1


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", help="output directory (overrides general.outdir)")
    parser.add_argument(
        "--scheduler",
        help="dask scheduler: threads, processes, synchronous, or the address of a running "
        "distributed scheduler (tcp://host:8786); overrides compute.scheduler",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


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

    config = sub.add_parser("config", help="write the commented default analysis configuration")
    config.add_argument("--output", "-o", help="file to write (default: standard output)")
    config.add_argument("--overwrite", action="store_true", help="replace an existing file")
    config.set_defaults(func=_cmd_config)

    run = sub.add_parser("run", help="run the analysis of a YAML configuration")
    run.add_argument("config", help="configuration file (see `gammax config`)")
    _add_run_options(run)
    run.add_argument("--overwrite", action="store_true", help="replace earlier outputs")
    run.add_argument("--steps", nargs="+", help="steps to run (overrides general.steps)")
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser(
        "demo", help="simulate a small archive and run a full 3D and 1D analysis of it"
    )
    _add_run_options(demo)
    demo.set_defaults(output="gammax-demo")
    demo.add_argument("--n-obs", type=int, default=4, help="simulated observations (default 4)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gammax`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as err:
        print(f"gammax {args.command}: configuration error: {err}", file=sys.stderr)
        return 2
    except GammaxError as err:
        print(f"gammax {args.command}: error: {err}", file=sys.stderr)
        return 2 if args.command in ("info", "check") else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

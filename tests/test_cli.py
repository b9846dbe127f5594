"""The ``gammax`` command: info and check, with exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gammax.cli import main

from .dl3_factory import make_store


def test_info_prints_summary(tmp_path, capsys):
    root = make_store(tmp_path / "s", obs_ids=(5, 6, 7))
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Observations: 3" in out and "Crab Nebula (2)" in out and "aeff:aeff_2d (3)" in out


def test_check_exit_codes(tmp_path, capsys):
    root = make_store(tmp_path / "s", obs_ids=(5, 6))
    assert main(["check", str(root)]) == 0
    (root / "run_0006.fits.gz").unlink()
    assert main(["check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "DataFileNotFoundError" in out and "run_0006.fits.gz" in out
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.data
def test_console_script_runs_on_hess(hess_dir):
    result = subprocess.run(
        [sys.executable, "-m", "gammax.cli", "info", str(hess_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Observations: 105" in result.stdout

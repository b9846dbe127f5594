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


# -- gammax config / run: exit codes -------------------------------------------------------
def test_config_writes_the_commented_default(tmp_path, capsys):
    from gammax.analysis import AnalysisConfig

    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# gammax analysis configuration")
    assert AnalysisConfig.from_yaml(text) == AnalysisConfig()
    path = tmp_path / "analysis.yaml"
    assert main(["config", "-o", str(path)]) == 0
    assert AnalysisConfig.read(path) == AnalysisConfig()
    # an existing file is not replaced without --overwrite: usage error
    assert main(["config", "-o", str(path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["config", "-o", str(path), "--overwrite"]) == 0


def test_run_config_errors_exit_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  geom:\n    wcs:\n      binsz: 0.02 deg\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "'binsz'" in err and "bad.yaml" in err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    nostore = tmp_path / "nostore.yaml"
    nostore.write_text(f"observations: {{datastore: {tmp_path / 'nowhere'}}}\n")
    assert main(["run", str(nostore), "--output", str(tmp_path / "o")]) == 2
    assert "observations.datastore" in capsys.readouterr().err
    # a bad --scheduler is a configuration error too
    assert main(["run", str(nostore), "--scheduler", "thread"]) == 2
    assert "Did you mean 'threads'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2


def test_run_failure_exits_1(tmp_path, capsys):
    root = make_store(tmp_path / "s", obs_ids=(5, 6))
    (root / "run_0006.fits.gz").unlink()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"observations: {{datastore: {root}, required_irf: []}}\n"
        "datasets:\n  geom:\n    wcs:\n      skydir: {lon: 83.63 deg, lat: 22.01 deg}\n"
        "      width: {width: 1 deg, height: 1 deg}\n      binsize: 0.1 deg\n"
    )
    code = main(["run", str(config), "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == 1
    assert "run_0006.fits.gz" in capsys.readouterr().err

"""The Sphinx documentation builds with warnings as errors (as in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    import sphinx  # noqa: F401 - the docs need it (``test`` extra)

    env = dict(os.environ, GAMMAX_DOCS_OFFLINE="1")  # no intersphinx downloads
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-E",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    html = (tmp_path / "html" / "api.html").read_text()
    # the API reference was generated from the docstrings
    assert 'id="gammax.fit.fit"' in html and 'id="gammax.analysis.Analysis"' in html
    assert (tmp_path / "html" / "config_reference.html").exists()

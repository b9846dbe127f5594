"""The YAML-driven analysis: configuration, the :class:`Analysis` steps, the demo.

- :class:`AnalysisConfig`: the validated configuration (sections as Gammapy's
  ``AnalysisConfig``, plus ``models`` and ``compute``);
- :class:`Analysis`: observations -> Zarr datasets -> fit -> flux points,
  light curve, excess maps, all written into one output directory;
- :func:`run_demo`: simulate a small archive with the analytic instrument and
  analyse it in 3D and 1D (``gammax demo``).

Examples
--------
>>> from gammax.analysis import AnalysisConfig
>>> AnalysisConfig().datasets.type
'3d'
"""

from __future__ import annotations

from .analysis import Analysis
from .config import AnalysisConfig, ConfigSection, default_config_yaml
from .demo import run_demo

__all__ = ["Analysis", "AnalysisConfig", "ConfigSection", "default_config_yaml", "run_demo"]

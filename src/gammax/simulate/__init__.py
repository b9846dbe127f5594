"""Simulation: a built-in analytic instrument, event sampling, DL3 archives and binned fakes.

- :class:`AnalyticInstrument` / :class:`Instrument`: IRFs from documented
  formulas (or read from GADF files such as the CTA responses), as gammax IRF
  Datasets, written as GADF HDUs that gammax and Gammapy read;
- :func:`sample_events`: DL3 events of one observation from sky models, the IRFs
  and the background;
- :func:`simulate_archive`: many observations as one dask graph writing GADF DL3
  files and index tables;
- :func:`galactic_population`, :func:`galactic_diffuse`: synthetic skies;
- :func:`fake_counts`: Poisson fakes of binned predicted counts.

Examples
--------
>>> import gammax.simulate as gs
>>> from gammax.models import Models, PointSpatialModel, PowerLawSpectralModel, SkyModel
>>> crab = SkyModel(PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1"),
...                 PointSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg"), name="crab")
>>> specs = gs.wobble_pointings((83.63, 22.01), 4, ontime=600)
>>> result = gs.simulate_archive("sim", specs, gs.Instrument.analytic(), Models([crab]),
...                              seed=1)  # doctest: +SKIP
>>> result.open().events()  # doctest: +SKIP
"""

from __future__ import annotations

from .analytic import AnalyticInstrument
from .archive import ArchiveResult, IRFLayout, simulate_archive, write_observation
from .binned import fake_counts
from .dl3 import events_hdu, gti_hdu, write_hdulist, write_index_tables
from .events import component_rng, sample_events
from .instrument import Instrument
from .irf_fits import irf_to_hdu
from .observation import MJDREF, ObservationSpec
from .pointings import galactic_plane_pointings, schedule, wobble_pointings
from .population import CRAB_FLUX_1TEV, galactic_diffuse, galactic_population
from .sources import SourceSampler, build_source_sampler
from .tables import SamplingConfig, SamplingTables, build_tables

__all__ = [
    "CRAB_FLUX_1TEV",
    "MJDREF",
    "AnalyticInstrument",
    "ArchiveResult",
    "IRFLayout",
    "Instrument",
    "ObservationSpec",
    "SamplingConfig",
    "SamplingTables",
    "SourceSampler",
    "build_source_sampler",
    "build_tables",
    "component_rng",
    "events_hdu",
    "fake_counts",
    "galactic_diffuse",
    "galactic_plane_pointings",
    "galactic_population",
    "gti_hdu",
    "irf_to_hdu",
    "sample_events",
    "schedule",
    "simulate_archive",
    "wobble_pointings",
    "write_hdulist",
    "write_index_tables",
    "write_observation",
]

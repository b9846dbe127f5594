"""Spectrum and flux-point datasets built from arrays."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from gammax.datasets import FluxPointsDataset, SpectrumDataset, diagonal_edisp
from gammax.errors import ConfigError
from gammax.geom import MapAxis


def test_diagonal_edisp_sends_each_true_bin_to_its_centre():
    e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
    et = MapAxis.from_energy_edges([0.5, 1.5, 4.0, 8.0, 20.0], unit="TeV", name="energy_true")
    matrix = diagonal_edisp(et, e)
    # centres (geometric): 0.87 (outside), 2.45 -> bin 0, 5.66 -> bin 1, 12.6 (outside)
    np.testing.assert_array_equal(matrix, [[0, 0], [1, 0], [0, 1], [0, 0]])


def test_spectrum_dataset_checks_shapes_and_names():
    e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3)
    et = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3, name="energy_true")
    ds = SpectrumDataset.create([1, 2, 3], [1e8] * 3, e, et, background=[0.5] * 3, name="x")
    assert ds.counts.dtype == float and ds.exposure.attrs["units"] == "m2 s"
    with pytest.raises(ConfigError, match=r"'counts' has shape \(2,\)"):
        SpectrumDataset.create([1, 2], [1e8] * 3, e, et)
    with pytest.raises(ConfigError, match="named"):
        SpectrumDataset.create([1, 2, 3], [1e8] * 3, et, e)


def test_flux_points_from_table_and_chi2():
    import gammax.models as gm
    from gammax.fit import Likelihood, fit

    pl = gm.PowerLawSpectralModel(index=2.4, amplitude="3e-12 cm-2 s-1 TeV-1")
    e_ref = np.geomspace(1, 30, 6)
    dnde = np.asarray(pl(e_ref).values)
    table = Table(
        {"e_ref": e_ref, "dnde": dnde, "dnde_err": 0.1 * dnde, "is_ul": [False] * 5 + [True]}
    )
    table["e_ref"].unit = "TeV"
    table["dnde"].unit = table["dnde_err"].unit = "cm-2 s-1 TeV-1"
    ds = FluxPointsDataset.from_table(table, name="fp")
    assert ds.energy_min.values[0] < 1 < ds.energy_max.values[0]
    models = gm.Models([gm.SkyModel(gm.PowerLawSpectralModel(index=2.0), name="src")])
    like = Likelihood(ds, models)
    x = like.space.vector_from_values({"src.spectral.index": 2.4, "src.spectral.amplitude": 3e-12})
    assert like(x) == pytest.approx(0.0, abs=1e-20)
    # chi2 of the 5 points that are not upper limits
    x2 = like.space.vector_from_values(
        {"src.spectral.index": 2.4, "src.spectral.amplitude": 3.3e-12}
    )
    assert like(x2) == pytest.approx(5 * (0.1 / 0.1) ** 2 * 1.0, rel=1e-9)
    result = fit(ds, models)
    assert result.values["src.spectral.index"] == pytest.approx(2.4, abs=1e-3)  # migrad tol
    with pytest.raises(ConfigError, match="dnde_err"):
        FluxPointsDataset.create([1.0], [1e-12])

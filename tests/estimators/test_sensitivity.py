"""Differential sensitivity against Gammapy 2.1 on the same H.E.S.S. OGIP spectrum.

Both read ``joint-crab/spectra/hess/pha_obs23523.fits`` (ON/OFF, WStat);
``e2dnde``, ``excess`` and ``background`` must agree within 1% per bin (they
agree to ~1e-13) and the limiting criterion must be the same in every bin.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from gammax.errors import ConfigError
from gammax.estimators.sensitivity import (
    SensitivityEstimator,
    criterion_names,
    excess_matching_significance,
)


@pytest.fixture(scope="module")
def pha(data_dir):
    return data_dir / "joint-crab" / "spectra" / "hess" / "pha_obs23523.fits"


@pytest.mark.gammapy
def test_excess_matching_significance_inverts_the_statistics():
    from gammapy.stats import CashCountsStatistic, WStatCountsStatistic

    rng = np.random.default_rng(2)
    n_off = rng.uniform(5, 500, 30)
    alpha = rng.uniform(0.05, 0.5, 30)
    n_bkg = alpha * n_off
    ours = excess_matching_significance(n_bkg, n_off, alpha, 5.0)
    # the excess found has significance 5 (Gammapy's WStat)
    sig = WStatCountsStatistic(n_bkg + ours, n_off, alpha).sqrt_ts
    np.testing.assert_allclose(sig, 5.0, rtol=1e-8)
    cash = excess_matching_significance(n_bkg, significance=3.0)
    expected = CashCountsStatistic(n_bkg, n_bkg).n_sig_matching_significance(3.0)
    np.testing.assert_allclose(cash, expected, rtol=1e-10)


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("gamma_min, syst", [(10, 0.05), (1, 0.0), (2, 5.0)])
def test_sensitivity_matches_gammapy(pha, gamma_min, syst):
    from gammapy.datasets import SpectrumDatasetOnOff
    from gammapy.estimators import SensitivityEstimator as GammapySensitivity

    from gammax.datasets import read_ogip

    ours = SensitivityEstimator(gamma_min=gamma_min, bkg_syst_fraction=syst).run(read_ogip(pha))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = GammapySensitivity(gamma_min=gamma_min, bkg_syst_fraction=syst).run(
            SpectrumDatasetOnOff.read(pha)
        )
    assert criterion_names(ours) == [str(c) for c in table["criterion"]]
    for name in ("e2dnde", "excess", "background"):
        a, b = ours[name].values, np.asarray(table[name], float)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        good = np.isfinite(b) & (b != 0)
        assert good.sum() >= 20, name
        np.testing.assert_allclose(a[good], b[good], rtol=0.01, err_msg=name)
    np.testing.assert_allclose(
        ours.e_ref.values, table["e_ref"].quantity.to_value("TeV"), rtol=1e-9
    )
    assert ours.e2dnde.attrs["units"] == "erg cm-2 s-1"


@pytest.mark.data
def test_criteria_and_zarr_round_trip(pha, tmp_path):
    from gammax.datasets import read_ogip

    # one run has little background (<= 3 counts per bin): a large systematic fraction
    sens = SensitivityEstimator(gamma_min=1, bkg_syst_fraction=5.0).run(read_ogip(pha))
    names = criterion_names(sens)
    finite = np.isfinite(sens.e2dnde.values)
    # where the background is large the systematics limit, elsewhere the significance
    assert {"significance", "bkg"} <= set(np.asarray(names)[finite])
    bkg = sens.background.values
    limited = np.asarray(names) == "bkg"
    np.testing.assert_allclose(sens.excess.values[limited], 5.0 * bkg[limited])
    sens.to_zarr(tmp_path / "sens.zarr", consolidated=False)
    back = xr.open_zarr(tmp_path / "sens.zarr", consolidated=False)
    assert criterion_names(back) == names
    np.testing.assert_array_equal(back.e2dnde.values, sens.e2dnde.values)
    assert back.attrs["bkg_syst_fraction"] == 5.0


def test_bad_input_raises_gammax_errors():
    from gammax.datasets import SpectrumDataset
    from gammax.geom import MapAxis

    with pytest.raises(ConfigError, match="n_sigma"):
        SensitivityEstimator(n_sigma=0)
    e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
    et = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2, name="energy_true")
    no_bkg = SpectrumDataset.create(np.zeros(2), np.ones(2), e, et, name="nobkg")
    with pytest.raises(ConfigError, match="nobkg"):
        SensitivityEstimator().run(no_bkg)

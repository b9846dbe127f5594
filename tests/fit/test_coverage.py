"""Coverage of the 1-sigma (HESSE) intervals over 200 Poisson fakes of a small 3D dataset.

The dataset is a 1 x 1 deg cutout (50 x 50 pixels, 12 energy bins) of the
stacked Crab runs, so the 200 fits take well under two minutes on 2 cores. The
truth is a point source with a power law (index 2.6, amplitude 4e-11
cm-2 s-1 TeV-1) at the Crab plus the FoV background (norm 1); each fake draws
Poisson counts from its predicted counts (seeds 0-199) and is fitted from the
truth. For each of the five free parameters the fraction of fits whose
``|fit - truth| < error`` must be 68.27% within three binomial standard
deviations (sqrt(0.68 x 0.32 / 200) = 3.3%), and every fit must converge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

import gammax.models as gm
from gammax.datasets import MapDataset
from gammax.fit import fit, npred

pytestmark = [pytest.mark.data, pytest.mark.slow]

N_FAKES = 200
P68 = math.erf(1 / math.sqrt(2))


def _truth():
    crab = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2.6, amplitude="4e-11 cm-2 s-1 TeV-1"),
        gm.PointSpatialModel(lon_0="83.633 deg", lat_0="22.0145 deg"),
        name="crab",
    )
    return gm.Models([crab, gm.FoVBackgroundModel("small")])


def test_one_sigma_coverage_over_200_fakes(crab_stacked):
    small = MapDataset.cutout(
        crab_stacked, SkyCoord(83.633, 22.0145, unit="deg"), 1.0, name="small"
    ).load()
    assert small.counts.shape == (12, 50, 50)
    truth = _truth()
    mu = npred(small, truth).values
    keys = truth.free_parameter_names
    true_values = truth.values()
    inside = np.zeros((N_FAKES, len(keys)), bool)
    converged = []
    for seed in range(N_FAKES):
        counts = np.random.default_rng(seed).poisson(mu).astype(float)
        fake = small.assign(counts=small.counts.copy(data=counts))
        with fit(fake, _truth()) as result:
            converged.append(result.success and np.all(np.isfinite(result.covariance_factors)))
            for j, key in enumerate(keys):
                inside[seed, j] = abs(result.values[key] - true_values[key]) < result.errors[key]
    coverage = inside.mean(axis=0)
    sigma = math.sqrt(P68 * (1 - P68) / N_FAKES)
    report = ", ".join(f"{k}: {c:.3f}" for k, c in zip(keys, coverage, strict=True))
    print(f"\n1-sigma coverage over {N_FAKES} fakes (expected {P68:.3f} +- {sigma:.3f}): {report}")
    assert all(converged), f"{converged.count(False)} fits did not converge"
    for key, c in zip(keys, coverage, strict=True):
        assert abs(c - P68) < 3 * sigma, (key, c)

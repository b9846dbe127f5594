"""IRF classes absent from the shared data (psf_king, bkg_2d): files written by Gammapy."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u

import gammax
from gammax import irf as girf
from gammax.units import to_dataarray

pytestmark = pytest.mark.gammapy

E_TRUE = np.geomspace(0.05, 80, 17) * u.TeV
OFFSET = np.linspace(0, 2.4, 7) * u.deg


def test_psf_king_written_by_gammapy(tmp_path):
    from gammapy.irf import PSFKing
    from gammapy.maps import MapAxis

    energy_axis = MapAxis.from_energy_bounds(0.03, 100, 12, unit="TeV", name="energy_true")
    offset_axis = MapAxis.from_bounds(0, 2.5, 5, unit="deg", name="offset")
    e = energy_axis.center.to_value("TeV")[:, None]
    o = offset_axis.center.to_value("deg")[None, :]
    data = np.zeros((12, 5), dtype=[("gamma", "f4"), ("sigma", "f4")])
    data["gamma"] = 2.0 + 0.3 * np.log10(e) + 0.1 * o
    data["sigma"] = 0.08 / (1 + np.log10(e + 1)) * (1 + 0.2 * o)
    psf = PSFKing(
        axes=[energy_axis, offset_axis], data=data, unit={"gamma": u.Unit(""), "sigma": u.deg}
    )
    path = tmp_path / "king.fits"
    psf.write(path)
    ours = gammax.read_irf(path, "PSF_2D_KING")
    assert ours.attrs["hdu_class"] == "psf_king"
    rad = np.linspace(0, 0.6, 25) * u.deg
    expected = psf.evaluate(
        rad=rad[:, None, None], energy_true=E_TRUE[:, None], offset=OFFSET
    ).to_value("sr-1")
    got = girf.evaluate_psf(ours, rad, E_TRUE, OFFSET, extrapolate="extrapolate")
    np.testing.assert_allclose(
        got.transpose("rad", "energy_true", "offset").values, expected, rtol=1e-6
    )
    expected = psf.containment(rad=rad[:, None, None], energy_true=E_TRUE[:, None], offset=OFFSET)
    got = girf.psf_containment(ours, rad, E_TRUE, OFFSET, extrapolate="extrapolate")
    np.testing.assert_allclose(
        got.transpose("rad", "energy_true", "offset").values,
        np.asarray(expected),
        rtol=1e-6,
        atol=1e-12,
    )


def test_bkg_2d_written_by_gammapy(tmp_path):
    from gammapy.irf import Background2D
    from gammapy.maps import MapAxis

    energy_axis = MapAxis.from_energy_bounds(0.1, 100, 15, unit="TeV", name="energy")
    offset_axis = MapAxis.from_bounds(0, 3, 6, unit="deg", name="offset")
    e = energy_axis.center.to_value("TeV")[:, None]
    o = offset_axis.center.to_value("deg")[None, :]
    data = 1e-3 * e**-2.7 * np.exp(-(o**2) / 3.0)
    data[-1, -1] = 0.0  # empty bins interpolate to zero in log space
    bkg = Background2D(axes=[energy_axis, offset_axis], data=data, unit="s-1 MeV-1 sr-1")
    path = tmp_path / "bkg.fits"
    bkg.write(path)
    ours = gammax.read_irf(path, "BACKGROUND")
    assert ours.attrs["hdu_class"] == "bkg_2d" and ours.bkg.dims == ("energy", "offset")
    energy = np.geomspace(0.1, 100, 31) * u.TeV
    expected = bkg.evaluate(energy=energy[:, None], offset=OFFSET).to_value("MeV-1 s-1 sr-1")
    got = girf.evaluate_background(ours, energy, offset=OFFSET, extrapolate="fill")
    np.testing.assert_allclose(got.values, expected, rtol=1e-6, atol=1e-30)
    # bkg_2d also takes FoV coordinates, turned into offsets
    lon = np.array([0.3, 1.2]) * u.deg
    lat = np.array([0.4, -0.5]) * u.deg
    via_fov = girf.evaluate_background(
        ours,
        energy,
        fov_lon=to_dataarray(lon, "deg", dim="p"),
        fov_lat=to_dataarray(lat, "deg", dim="p"),
        extrapolate="fill",
    )
    direct = girf.evaluate_background(ours, energy, offset=np.hypot(lon, lat), extrapolate="fill")
    np.testing.assert_allclose(via_fov.transpose("energy", "p").values, direct.values)

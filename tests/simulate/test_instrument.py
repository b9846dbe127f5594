"""The analytic instrument: formulas, the read_irf layout, FITS round trips (gammax and Gammapy)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from astropy import units as u
from astropy.io import fits

import gammax
import gammax.simulate as gs
from gammax import irf as girf
from gammax.errors import FormatError
from gammax.simulate.irf_fits import irf_to_hdu

VARIANTS = {
    "3gauss-bkg3d": gs.AnalyticInstrument(),
    "table-bkg2d": gs.AnalyticInstrument(psf_class="psf_table", bkg_class="bkg_2d"),
}


def da(values, dim, unit):
    return xr.DataArray(np.asarray(values, float), dims=dim, attrs={"units": unit})


def write_read(ds: xr.Dataset, tmp_path, name="irf.fits") -> xr.Dataset:
    path = tmp_path / name
    fits.HDUList([fits.PrimaryHDU(), irf_to_hdu(ds)]).writeto(path, overwrite=True)
    return gammax.read_irf(path, 1).load()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kind", ["aeff", "edisp", "psf", "bkg"])
def test_layout_is_read_irf_layout(variant, kind, tmp_path):
    """Built in memory, or written and read back: the same Dataset, bit for bit."""
    built = VARIANTS[variant].irfs()[kind]
    read = write_read(built, tmp_path)
    assert list(built.data_vars) == list(read.data_vars)
    assert set(built.coords) == set(read.coords)
    for name in [*built.data_vars, *built.coords]:
        assert built[name].dims == read[name].dims, name
        assert built[name].dtype == read[name].dtype, name
        np.testing.assert_array_equal(built[name].values, read[name].values, err_msg=name)
        assert built[name].attrs == read[name].attrs, name
    for key in (
        "hdu_class",
        "hdu_type",
        "is_pointlike",
        "fov_alignment",
        "HDUCLAS4",
        "energy_threshold_lo",
        "energy_threshold_hi",
        "TELESCOP",
    ):
        assert built.attrs.get(key) == read.attrs.get(key), key


def test_formulas_at_nodes():
    params = gs.AnalyticInstrument()
    irfs = params.irfs()
    e = irfs["aeff"]["energy_true"].values
    theta = irfs["aeff"]["offset"].values
    expected = params.aeff_max * (e / 0.15) ** 2.5 / (1 + (e / 0.15) ** 2.5)
    expected = expected[:, None] * np.exp(-0.5 * theta**2 / 2.5**2)[None]
    np.testing.assert_allclose(irfs["aeff"]["aeff"].values, expected, rtol=1e-6)
    got = girf.evaluate_aeff(irfs["aeff"], e, theta).transpose("energy_true", "offset")
    np.testing.assert_allclose(got.values, expected, rtol=1e-6)
    # the PSF is one normalised Gaussian of width sigma(E, theta)
    rad = da([0.02, 0.05, 0.1, 0.3], "rad", "deg")
    cont = girf.psf_containment(irfs["psf"], rad, e[20], theta[2]).values
    sigma = params.psf_width(e[20], theta[2])
    np.testing.assert_allclose(cont, 1 - np.exp(-0.5 * (rad.values / sigma) ** 2), rtol=1e-6)
    # the migration density integrates to one over the migra bins
    edisp = irfs["edisp"]
    bounds = edisp["migra_bounds"].values
    total = (edisp["edisp"] * xr.DataArray(bounds[:, 1] - bounds[:, 0], dims="migra")).sum("migra")
    np.testing.assert_allclose(total.values, 1.0, rtol=1e-5)
    # the background falls as E^-Gamma above the trigger energy, radially in the FoV
    bkg = irfs["bkg"]
    value = girf.evaluate_background(bkg, [1.0, 10.0] * u.TeV, 0.0 * u.deg, 0.0 * u.deg)
    ratio = float(value[0] / value[1])
    assert ratio == pytest.approx(10**2.7 * params.trigger(1.0) / params.trigger(10.0), rel=2e-3)
    assert irfs["aeff"].attrs["energy_threshold_lo"] == pytest.approx(
        0.15 * 9 ** (-1 / 2.5), rel=1e-6
    )


def test_invalid_parameters():
    with pytest.raises(ValueError, match="psf_class"):
        gs.AnalyticInstrument(psf_class="psf_king")
    with pytest.raises(ValueError, match="energy_range"):
        gs.AnalyticInstrument(energy_range=(1.0, 0.1))


def test_instrument_write_read_roundtrip(tmp_path):
    inst = gs.Instrument.analytic()
    path = inst.write(tmp_path / "irf.fits.gz")
    with pytest.raises(FileExistsError):
        inst.write(path)
    again = gs.Instrument.read(path)
    assert again.token == inst.token  # bit-identical values
    assert again.hdu_names == {
        "aeff": "EFFECTIVE AREA",
        "psf": "POINT SPREAD FUNCTION",
        "edisp": "ENERGY DISPERSION",
        "bkg": "BACKGROUND",
    }
    # the same bytes every time
    assert inst.write(tmp_path / "b.fits.gz").read_bytes() == path.read_bytes()


def test_altaz_background_is_refused():
    irfs = gs.AnalyticInstrument().irfs()
    bkg = irfs["bkg"].assign_attrs(fov_alignment="ALTAZ")
    with pytest.raises(FormatError, match="ALTAZ"):
        gs.Instrument(irfs["aeff"], irfs["edisp"], irfs["psf"], bkg)


@pytest.mark.gammapy
@pytest.mark.filterwarnings("ignore::RuntimeWarning:gammapy.utils.interpolation")
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_gammapy_reads_and_agrees(variant, tmp_path):
    """Gammapy reads the written IRFs; its evaluation agrees with gammax's (1e-5)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.irf import (
            PSF3D,
            Background2D,
            Background3D,
            EffectiveAreaTable2D,
            EnergyDependentMultiGaussPSF,
            EnergyDispersion2D,
        )
    params = VARIANTS[variant]
    inst = gs.Instrument.analytic(params)
    path = inst.write(tmp_path / "irf.fits")
    ours = gs.Instrument.read(path)
    rng = np.random.default_rng(0)
    e = np.exp(rng.uniform(np.log(0.02), np.log(200), 50))
    theta = rng.uniform(0.0, 5.5, 50)

    aeff = EffectiveAreaTable2D.read(path, hdu="EFFECTIVE AREA")
    expected = aeff.evaluate(energy_true=e * u.TeV, offset=theta * u.deg).to_value("m2")
    got = girf.evaluate_aeff(ours.aeff, da(e, "p", "TeV"), da(theta, "p", "deg"))
    np.testing.assert_allclose(got.values, expected, rtol=1e-5)

    edisp = EnergyDispersion2D.read(path, hdu="ENERGY DISPERSION")
    migra = rng.uniform(0.5, 1.5, 50)
    expected = edisp.evaluate(energy_true=e * u.TeV, migra=migra, offset=theta * u.deg)
    got = girf.evaluate_edisp(
        ours.edisp, da(e, "p", "TeV"), da(migra, "p", ""), da(theta, "p", "deg")
    )
    np.testing.assert_allclose(got.values, expected.to_value(""), rtol=1e-5, atol=1e-9)

    cls = PSF3D if params.psf_class == "psf_table" else EnergyDependentMultiGaussPSF
    psf = cls.read(
        path, hdu="PSF_2D_TABLE" if params.psf_class == "psf_table" else "POINT SPREAD FUNCTION"
    )
    rad = rng.uniform(0.0, 0.4, 50)
    expected = psf.evaluate(rad=rad * u.deg, energy_true=e * u.TeV, offset=theta * u.deg)
    got = girf.evaluate_psf(
        ours.psf, da(rad, "p", "deg"), da(e, "p", "TeV"), da(theta, "p", "deg"), extrapolate="fill"
    )
    np.testing.assert_allclose(
        got.values, expected.to_value("sr-1"), rtol=1e-5, atol=1e-7 * float(expected.value.max())
    )
    expected = psf.containment(rad=rad * u.deg, energy_true=e * u.TeV, offset=theta * u.deg)
    got = girf.psf_containment(
        ours.psf, da(rad, "p", "deg"), da(e, "p", "TeV"), da(theta, "p", "deg"), extrapolate="fill"
    )
    np.testing.assert_allclose(got.values, np.asarray(expected), rtol=1e-4, atol=1e-6)

    lon, lat = rng.uniform(-4, 4, 50), rng.uniform(-4, 4, 50)
    if params.bkg_class == "bkg_3d":
        bkg = Background3D.read(path, hdu="BACKGROUND")
        expected = bkg.evaluate(energy=e * u.TeV, fov_lon=lon * u.deg, fov_lat=lat * u.deg)
        got = girf.evaluate_background(
            ours.bkg, da(e, "p", "TeV"), da(lon, "p", "deg"), da(lat, "p", "deg")
        )
    else:
        bkg = Background2D.read(path, hdu="BACKGROUND")
        offset = np.hypot(lon, lat)
        expected = bkg.evaluate(energy=e * u.TeV, offset=offset * u.deg)
        got = girf.evaluate_background(ours.bkg, da(e, "p", "TeV"), offset=da(offset, "p", "deg"))
    np.testing.assert_allclose(got.values, expected.to_value("s-1 MeV-1 sr-1"), rtol=1e-5)


@pytest.mark.data
@pytest.mark.parametrize(
    "relpath",
    [
        "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz",
        "cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits",
    ],
)
def test_cta_instrument_roundtrip(data_dir, relpath, tmp_path):
    """CTA response files read into an Instrument and are rewritten faithfully."""
    inst = gs.Instrument.read(data_dir / relpath)
    assert {k: ds.attrs["hdu_class"] for k, ds in inst.irfs().items()} == {
        "aeff": "aeff_2d",
        "edisp": "edisp_2d",
        "psf": "psf_3gauss",
        "bkg": "bkg_3d",
    }
    again = gs.Instrument.read(inst.write(tmp_path / "copy.fits.gz"))
    assert again.token == inst.token
    assert again.hdu_names == inst.hdu_names

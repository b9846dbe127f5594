"""OGIP PHA/ARF/RMF/BKG: reading the joint-crab spectra, writing, Gammapy interoperability."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits

from gammax.datasets import SpectrumDataset, SpectrumDatasetOnOff, read_ogip, write_ogip
from gammax.errors import DataFileNotFoundError, FormatError, HDUNotFoundError
from gammax.geom import MapAxis

INSTRUMENTS = [
    "hess/pha_obs23523.fits",
    "magic/pha_obs5029747.fits",
    "veritas/pha_obs54809.fits",
    "fact/pha_stacked.fits",
    "fermi/pha_obs0.fits",
]


@pytest.mark.data
@pytest.mark.parametrize("name", INSTRUMENTS)
def test_read_joint_crab_spectra(joint_crab, name):
    ds = read_ogip(joint_crab / name)
    assert ds.attrs["gammax_dataset"] == "SpectrumDatasetOnOff"
    with fits.open(joint_crab / name) as hdul:
        spectrum = hdul["SPECTRUM"]
        np.testing.assert_array_equal(ds.counts.values, spectrum.data["COUNTS"])
        np.testing.assert_array_equal(ds.mask_safe.values, spectrum.data["QUALITY"] == 0)
        livetime = spectrum.header["EXPOSURE"]
        arf = fits.getdata(joint_crab / name.replace("pha_", "arf_"), "SPECRESP")
    assert ds.attrs["livetime"] == livetime
    np.testing.assert_allclose(ds.exposure.values, arf["SPECRESP"] * 1e-4 * livetime)
    rows = ds.edisp.sum("energy").values
    assert np.all(rows <= 1 + 1e-6)


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("name", INSTRUMENTS)
def test_read_equals_gammapy(joint_crab, name):
    from gammapy.datasets import SpectrumDatasetOnOff as GDataset

    ours = read_ogip(joint_crab / name)
    theirs = GDataset.read(joint_crab / name)
    np.testing.assert_array_equal(ours.counts.values, theirs.counts.data.ravel())
    np.testing.assert_array_equal(ours.counts_off.values, theirs.counts_off.data.ravel())
    np.testing.assert_allclose(ours.acceptance_off.values, theirs.acceptance_off.data.ravel())
    np.testing.assert_array_equal(ours.mask_safe.values, theirs.mask_safe.data.ravel())
    np.testing.assert_allclose(
        ours.exposure.values, theirs.exposure.quantity.to_value("m2 s").ravel(), rtol=1e-12
    )
    matrix = theirs.edisp.get_edisp_kernel().pdf_matrix
    np.testing.assert_allclose(ours.edisp.values, matrix, rtol=1e-6)
    np.testing.assert_allclose(
        ours.energy.attrs["edges"],
        theirs.counts.geom.axes["energy"].edges.to_value("TeV"),
        rtol=1e-9,
    )


def _toy(onoff=True):
    e = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 6)
    et = MapAxis.from_energy_bounds("0.05 TeV", "200 TeV", 9, name="energy_true")
    rng = np.random.default_rng(0)
    edisp = rng.uniform(0, 1, (9, 6)) * (rng.uniform(0, 1, (9, 6)) > 0.4)
    edisp /= np.maximum(edisp.sum(axis=1, keepdims=True) * 1.1, 1e-9)
    common = dict(
        energy=e,
        energy_true=et,
        edisp=edisp,
        name="toy",
        mask_safe=[False, True, True, True, True, False],
        attrs={"livetime": 1800.0},
    )
    expo = rng.uniform(1e7, 1e9, 9)
    if onoff:
        return SpectrumDatasetOnOff.create(
            rng.poisson(10, 6),
            rng.poisson(30, 6),
            expo,
            acceptance=1.0,
            acceptance_off=[3, 3, 3, 4, 4, 4],
            **common,
        )
    return SpectrumDataset.create(rng.poisson(10, 6), expo, **common)


@pytest.mark.parametrize("onoff", [True, False])
def test_write_read_round_trip(tmp_path, onoff):
    ds = _toy(onoff)
    paths = write_ogip(ds, tmp_path)
    assert sorted(p.name for p in paths.values()) == sorted(
        [
            f"{k}_obstoy.fits"
            for k in (["pha", "arf", "rmf", "bkg"] if onoff else ["pha", "arf", "rmf"])
        ]
    )
    back = read_ogip(paths["pha"])
    assert back.attrs["gammax_dataset"] == ds.attrs["gammax_dataset"]
    for name in ds.data_vars:
        np.testing.assert_allclose(back[name].values, ds[name].values, rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(back.energy.attrs["edges"], ds.energy.attrs["edges"], rtol=1e-12)
    with pytest.raises(OSError):
        write_ogip(ds, tmp_path)  # no overwrite
    write_ogip(ds, tmp_path, overwrite=True)


@pytest.mark.gammapy
def test_gammapy_reads_what_we_write(tmp_path):
    from gammapy.datasets import SpectrumDatasetOnOff as GDataset

    ds = _toy()
    paths = write_ogip(ds, tmp_path)
    theirs = GDataset.read(paths["pha"])
    np.testing.assert_array_equal(theirs.counts.data.ravel(), ds.counts.values)
    np.testing.assert_array_equal(theirs.counts_off.data.ravel(), ds.counts_off.values)
    np.testing.assert_array_equal(theirs.mask_safe.data.ravel(), ds.mask_safe.values)
    np.testing.assert_allclose(theirs.acceptance_off.data.ravel(), ds.acceptance_off.values)
    np.testing.assert_allclose(
        theirs.exposure.quantity.to_value("m2 s").ravel(), ds.exposure.values, rtol=1e-12
    )
    np.testing.assert_allclose(
        theirs.edisp.get_edisp_kernel().pdf_matrix, ds.edisp.values, rtol=1e-6
    )


def test_errors_name_file_and_hdu(tmp_path):
    ds = _toy()
    paths = write_ogip(ds, tmp_path)
    with pytest.raises(DataFileNotFoundError, match=r"missing\.fits"):
        read_ogip(tmp_path / "missing.fits")
    paths["arf"].unlink()
    with pytest.raises(DataFileNotFoundError, match=r"arf_obstoy\.fits"):
        read_ogip(paths["pha"])
    write_ogip(ds, tmp_path, overwrite=True)
    broken = tmp_path / "broken.fits"
    shutil.copy(paths["pha"], broken)
    with fits.open(broken, mode="update") as hdul:
        hdul["SPECTRUM"].name = "OTHER"
    with pytest.raises(HDUNotFoundError, match="SPECTRUM"):
        read_ogip(broken)
    with fits.open(broken, mode="update") as hdul:
        hdul["OTHER"].name = "SPECTRUM"
        del hdul["SPECTRUM"].header["ANCRFILE"]
    with pytest.raises(FormatError, match="ANCRFILE"):
        read_ogip(broken)

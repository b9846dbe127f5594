"""Safe-data masks: synthetic unit tests and a cross-check against Gammapy 2.1's SafeMaskMaker.

Real-data comparison (H.E.S.S. DR1 Crab runs 23523, 23526, 23559, 23592):

- 3D: a 3 x 3 deg TAN map at 0.02 deg centred on the Crab (83.633, 22.014),
  12 reco-energy bins 0.5-50 TeV, 24 true-energy bins 0.3-100 TeV; Gammapy's
  ``MapDataset.create`` (edisp kernel map on its default 0.2 deg grid) filled by
  ``MapDatasetMaker``.
- 1D: a 0.11 deg circle at the Crab, 40 reco-energy bins 0.3-30 TeV, 48 true
  bins 0.1-100 TeV; ``SpectrumDatasetMaker``.

gammax gets the same DL4 inputs two ways: Gammapy's arrays re-labelled as gammax
maps (tests the mask logic alone), and exposure / edisp kernels computed by
gammax from its own IRF reading (end to end). Masks must be identical.
"""

from __future__ import annotations

import doctest
import logging
import warnings

import astropy.units as u
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord

import gammax
from gammax.errors import ConfigError
from gammax.geom import MapAxis, RegionGeom, WcsGeom
from gammax.irf import edisp_kernel, evaluate_aeff
from gammax.reduce import safe_mask as sm
from gammax.testing import raise_if_dask_computes

RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.014, unit="deg")
METHODS = ["aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak"]


# -- synthetic -------------------------------------------------------------------------------
def energy_geom(edges=(0.5, 1.0, 2.0, 5.0, 10.0)):
    axis = MapAxis.from_energy_edges(list(edges), unit="TeV")
    return WcsGeom.create(skydir=(10.0, 0.0), npix=(3, 2), binsz=1.0, axes=[axis])


def test_energy_mask_keeps_only_bins_fully_inside():
    geom = energy_geom()
    # 0.7 straddles [0.5, 1): dropped; 5.0 is an edge: [5, 10) kept on the lower side
    assert energy_mask_values(geom, 0.7, None) == [False, True, True, True]
    assert energy_mask_values(geom, 1.0, 5.0) == [False, True, True, False]
    assert energy_mask_values(geom, None, 7.0) == [True, True, True, False]
    assert energy_mask_values(geom, "500 GeV", 10 * u.TeV) == [True, True, True, True]
    assert energy_mask_values(geom, 20.0, None) == [False, False, False, False]


def energy_mask_values(geom, lo, hi):
    out = sm.energy_mask(geom, lo, hi)
    assert out.dims == ("energy",) and out.dtype == bool
    return out.values.tolist()


def test_energy_mask_rejects_non_energy():
    with pytest.raises(ConfigError, match="energy_min"):
        sm.energy_mask(energy_geom(), energy_min="3 deg")
    with pytest.raises(ConfigError, match="energy"):
        sm.energy_mask(WcsGeom.create(npix=(2, 2), binsz=1.0), energy_min=1.0)


def test_unknown_method_lists_valid_choices():
    with pytest.raises(ConfigError) as err:
        sm.make_mask_safe(energy_geom(), ["aeff-default", "aeff_max"])
    text = str(err.value)
    assert "'aeff_max'" in text
    for name in sm.SAFE_MASK_METHODS:
        assert name in text
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"irfs": "DL5"}, r"irfs='DL5'.*\['DL4', 'DL3'\]"),
        ({"stat": "chi2", "background": xr.DataArray([1.0])}, r"stat='chi2'.*cash.*wstat"),
        ({"aeff_percent": 0}, "aeff_percent=0"),
        ({"bias_percent": 150}, "bias_percent=150"),
        ({"position": (1.0, 2.0), "fixed_offset": "1 deg"}, "mutually exclusive"),
        ({"methods": ["aeff-max"]}, "needs exposure="),
        ({"methods": ["aeff-max"], "irfs": "DL3"}, "needs aeff="),
        ({"methods": ["edisp-bias"]}, "needs edisp_kernel_map="),
        ({"methods": ["bkg-peak"], "irfs": "DL3"}, "needs bkg="),
        ({"methods": ["bkg-invalid"]}, "needs background="),
        ({"methods": ["offset-max"]}, "needs pointing="),
        ({"methods": ["offset-max"], "pointing": (0, 0), "offset_max": "2 TeV"}, "offset_max="),
    ],
)
def test_bad_configuration(kwargs, match):
    methods = kwargs.pop("methods", ["aeff-default"])
    if methods == ["aeff-default"]:
        kwargs["aeff"] = xr.Dataset()
    with pytest.raises(ConfigError, match=match):
        sm.make_mask_safe(energy_geom(), methods, **kwargs)


def test_aeff_default_thresholds_from_attrs():
    aeff = xr.Dataset(
        attrs={
            "energy_threshold_lo": 1500.0,
            "energy_threshold_lo_units": "GeV",
            "energy_threshold_hi": 0.0,  # zero means "no limit", as in Gammapy
        }
    )
    lo, hi = sm.threshold_aeff_default(aeff)
    assert lo == 1.5 * u.TeV and hi is None
    safe = sm.make_mask_safe(energy_geom(), "aeff-default", aeff=aeff)
    assert safe.mask.dims == ("energy", "y", "x")
    assert safe.mask.isel(x=0, y=0).values.tolist() == [False, False, True, True]
    assert safe.thresholds["aeff_default_energy_min"] == 1.5
    assert np.isnan(safe.thresholds["aeff_default_energy_max"])
    assert safe.energy_min == 1.5 and np.isnan(safe.energy_max)


def spectrum(values, energy, dim="energy_true", unit="TeV"):
    return xr.DataArray(
        np.asarray(values, float),
        dims=dim,
        coords={dim: (dim, np.asarray(energy, float), {"units": unit})},
    )


def test_aeff_max_threshold_of_a_power_law():
    # log-log interpolation represents E^2 exactly: 10% of 100^2 is reached at sqrt(1000)
    energy = np.geomspace(0.1, 100, 13)
    got = sm.threshold_aeff_max(spectrum(energy**2, energy), 10)
    assert got.unit == u.TeV
    assert got.value == pytest.approx(np.sqrt(1000.0), rel=1e-10)
    assert sm.threshold_aeff_max(spectrum(energy**2, energy), 50).value == pytest.approx(
        np.sqrt(5000.0), rel=1e-10
    )
    # in GeV it is the same energy
    in_gev = sm.threshold_aeff_max(spectrum(energy**2, energy * 1e3, unit="GeV"), 10)
    assert in_gev.to_value("TeV") == pytest.approx(np.sqrt(1000.0), rel=1e-10)


def test_aeff_max_zero_and_leading_zeros():
    energy = np.geomspace(1, 10, 4)
    assert sm.threshold_aeff_max(spectrum(np.zeros(4), energy)) is None
    # threshold below the first non-zero value: no crossing above it -> first non-zero bin
    got = sm.threshold_aeff_max(spectrum([0.0, 5.0, 8.0, 10.0], energy), 10)
    assert got.value == pytest.approx(energy[1])
    geom = energy_geom()
    zero = geom.to_image().to_cube(
        [MapAxis.from_energy_edges(np.geomspace(1, 10, 5), name="energy_true")]
    )
    safe = sm.make_mask_safe(geom, "aeff-max", exposure=zero.empty())
    assert not safe.mask.values.any()


def bias_kernel(e_true_edges, bias):
    """Kernel whose mean reco energy gives ``bias`` per true bin.

    Reco bins are the true bins plus one more; row i puts weight w in reco bin
    i + 1 and 1 - w in bin i, so bias_i = w_i (r - 1) with r the bin ratio.
    """
    n = e_true_edges.size - 1
    ratio = e_true_edges[1] / e_true_edges[0]
    reco_edges = np.append(e_true_edges, e_true_edges[-1] * ratio)
    w = np.asarray(bias) / (ratio - 1)
    assert np.all((w >= 0) & (w <= 1))
    kernel = np.zeros((n, n + 1))
    kernel[np.arange(n), np.arange(n)] = 1 - w
    kernel[np.arange(n), np.arange(n) + 1] = w
    true_axis = MapAxis.from_energy_edges(e_true_edges, unit="TeV", name="energy_true")
    reco_axis = MapAxis.from_energy_edges(reco_edges, unit="TeV")
    return xr.DataArray(
        kernel,
        dims=("energy_true", "energy"),
        coords={"energy_true": true_axis.to_coordinate(), "energy": reco_axis.to_coordinate()},
    ), np.asarray(true_axis.center)


def test_edisp_bias_threshold_of_a_power_law_bias():
    edges = np.geomspace(1, 100, 21)
    centres = np.sqrt(edges[:-1] * edges[1:])
    kernel, _ = bias_kernel(edges, 0.2 * centres**-0.5)
    # bias 0.2 E^-0.5 = 0.1 at E = 4 TeV; reco energy 4 * 1.1
    got = sm.threshold_edisp_bias(kernel, 10)
    assert got.to_value("TeV") == pytest.approx(4.4, rel=1e-9)
    got = sm.threshold_edisp_bias(kernel, 5)
    assert got.to_value("TeV") == pytest.approx(16 * 1.05, rel=1e-9)


def test_edisp_bias_without_crossing_gives_peak_energy():
    edges = np.geomspace(1, 100, 11)
    kernel, e_true = bias_kernel(edges, np.zeros(10))
    assert sm.threshold_edisp_bias(kernel, 10).value == pytest.approx(e_true[0] * 1.1)


def test_bkg_peak_and_invalid():
    geom = energy_geom()
    data = np.ones(geom.shape)
    data[2] = 3.0  # peak in bin [2, 5)
    data[0, 0, 0] = np.nan
    data[3, 1, 2] = 0.0
    background = geom.wrap(data)
    assert sm.threshold_bkg_peak(background) == 2.0 * u.TeV
    safe = sm.make_mask_safe(geom, "bkg-peak", background=background)
    expected = np.ones(geom.shape, bool)
    expected[:2] = False
    expected[3, 1, 2] = False  # bkg-invalid comes with a background map, as in Gammapy
    np.testing.assert_array_equal(safe.mask.values, expected)
    assert safe.thresholds == {"bkg_peak_energy_min": 2.0}
    assert sm.mask_bkg_invalid(background, "wstat").values.sum() == data.size - 1
    assert sm.mask_bkg_invalid(background).values.sum() == data.size - 2


def test_offset_max_strict_and_chunked():
    # the pointing is a pixel centre: pixel (y=1, x=17) is 1.2 deg below it, a tie that
    # astropy's separation (Gammapy's, pointing first) puts just above 1.2
    geom = WcsGeom.create(skydir=(0, 0), npix=(41, 31), binsz=0.1, proj="CAR")
    pointing = SkyCoord(0.3, -0.2, unit="deg", frame="icrs")
    eager = sm.mask_offset_max(geom, pointing, "1.2 deg")
    coords = geom.get_coord()
    sky = SkyCoord(coords["lon"].values, coords["lat"].values, unit="deg")
    expected = pointing.separation(sky).deg < 1.2
    assert not expected[1, 17] and expected[2, 17]
    np.testing.assert_array_equal(eager.values, expected)
    with raise_if_dask_computes():
        lazy = sm.mask_offset_max(geom, pointing, 1.2, chunks={"y": 10, "x": 16})
    assert isinstance(lazy.data, dsa.Array) and lazy.data.chunks[0] == (10, 10, 10, 1)
    np.testing.assert_array_equal(lazy.values, eager.values)
    # a region geometry is tested at its centre
    from regions import CircleSkyRegion

    region = RegionGeom.create(CircleSkyRegion(SkyCoord(1.0, 0, unit="deg"), 0.1 * u.deg))
    assert bool(sm.mask_offset_max(region, (0, 0), 1.01)) is True
    assert bool(sm.mask_offset_max(region, (0, 0), 0.99)) is False


def test_make_mask_safe_stays_lazy_with_dask_background():
    geom = energy_geom()
    data = dsa.from_array(np.arange(np.prod(geom.shape), dtype=float).reshape(geom.shape), 2)
    background = geom.wrap(data)
    with raise_if_dask_computes():
        safe = sm.make_mask_safe(
            geom,
            ["aeff-default", "bkg-invalid"],
            background=background,
            aeff=xr.Dataset(attrs={"energy_threshold_lo": 1.0}),
        )
    assert isinstance(safe.mask.data, dsa.Array)
    expected = np.ones(geom.shape, bool)
    expected[0] = False
    expected[0, 0, 0] = False
    np.testing.assert_array_equal(safe.mask.values, expected)


def test_spectrum_at_position_nearest_pixel():
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2, name="energy_true")
    geom = WcsGeom.create(skydir=(0, 0), npix=(5, 4), binsz=1.0, proj="CAR", axes=[axis])
    data = np.arange(np.prod(geom.shape), dtype=float).reshape(geom.shape)
    m = geom.wrap(data)
    lon, lat = geom.pix_to_world(3.3, 0.6)  # nearest pixel x=3, y=1
    out = sm.spectrum_at_position(m, SkyCoord(float(lon), float(lat), unit="deg"))
    assert out.dims == ("energy_true",)
    np.testing.assert_array_equal(out.values, data[:, 1, 3])
    # nearest_valid: pixel (1, 3) has no positive value -> the closest valid pixel (1, 2)
    data2 = np.zeros(geom.shape)
    data2[:, 1, 2] = 1.0
    data2[:, 3, 4] = 2.0
    out = sm.spectrum_at_position(
        geom.wrap(data2), SkyCoord(float(lon), float(lat), unit="deg"), nearest_valid=True
    )
    np.testing.assert_array_equal(out.values, [1.0, 1.0])


def test_docstring_examples():
    result = doctest.testmod(sm, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0


# -- against Gammapy -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gp():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import gammapy.data
        import gammapy.datasets
        import gammapy.makers
        import gammapy.maps
        import gammapy.modeling.models
    logging.getLogger("gammapy").setLevel(logging.ERROR)
    return gammapy


@pytest.fixture(scope="module")
def stores(gp, hess_dir):
    return gp.data.DataStore.from_dir(hess_dir), gammax.open_datastore(hess_dir)


@pytest.fixture(scope="module")
def axes(gp):
    e = gp.maps.MapAxis.from_energy_bounds(0.5, 50, 12, unit="TeV")
    et = gp.maps.MapAxis.from_energy_bounds(0.3, 100, 24, unit="TeV", name="energy_true")
    return e, et


@pytest.fixture(scope="module")
def geoms(gp, axes):
    e = axes[0]
    ge = MapAxis.from_energy_bounds(0.5, 50, 12, unit="TeV")
    get = MapAxis.from_energy_bounds(0.3, 100, 24, unit="TeV", name="energy_true")
    gp_geom = gp.maps.WcsGeom.create(skydir=CRAB, width=3, binsz=0.02, proj="TAN", axes=[e])
    geom = WcsGeom.create(skydir=CRAB, width=3, binsz=0.02, proj="TAN", axes=[ge])
    geom_irf = WcsGeom.create(skydir=CRAB, width=3, binsz=0.2, proj="TAN")
    return gp_geom, geom, geom_irf, ge, get


def pointing_of(events):
    return SkyCoord(events.attrs["RA_PNT"], events.attrs["DEC_PNT"], unit="deg")


@pytest.fixture(scope="module")
def run_data(gp, stores, geoms, axes):
    """Per run: Gammapy observation and MapDataset, and gammax's inputs (two ways)."""
    gstore, xstore = stores
    gp_geom, geom, geom_irf, ge, get = geoms
    empty = gp.datasets.MapDataset.create(gp_geom, energy_axis_true=axes[1])
    maker = gp.makers.MapDatasetMaker(selection=["exposure", "background", "edisp"])
    out = {}
    for obs_id in RUNS:
        obs = gstore.obs(obs_id)
        dataset = maker.run(empty.copy(name=str(obs_id)), obs)
        events = xstore.events(obs_id)
        pointing = pointing_of(events)
        irfs = {t: xstore.irf(obs_id, t).load() for t in ("aeff", "edisp", "bkg")}
        inputs_gp = {
            "exposure": geom.to_image().to_cube([get]).wrap(dataset.exposure.data, "m2 s"),
            "edisp_kernel_map": geom_irf.to_cube([get, ge]).wrap(dataset.edisp.edisp_map.data),
            "background": geom.wrap(dataset.background.data),
        }
        livetime = obs.observation_live_time_duration.to_value("s")
        offset = geom.to_image().separation(pointing).reset_coords(drop=True)
        aeff = evaluate_aeff(irfs["aeff"], get.to_coordinate(), offset, extrapolate="fill")
        offset_irf = geom_irf.separation(pointing).reset_coords(drop=True)
        kernel = edisp_kernel(irfs["edisp"], get.to_coordinate(), ge.edges, offset_irf)
        inputs_gx = {
            "exposure": geom.to_image()
            .to_cube([get])
            .wrap(aeff.transpose("energy_true", "y", "x").values * livetime, "m2 s"),
            "edisp_kernel_map": geom_irf.to_cube([get, ge]).wrap(
                kernel.transpose("energy_true", "energy", "y", "x").values
            ),
            "background": inputs_gp["background"],
        }
        out[obs_id] = (obs, dataset, pointing, irfs, inputs_gp, inputs_gx)
    return out


def gammapy_mask(gp, dataset, obs, methods, **kwargs):
    maker = gp.makers.SafeMaskMaker(methods=methods, **kwargs)
    return maker.run(dataset.copy(), obs).mask_safe.data


def assert_same_masks(gp, geom, run, methods, **kwargs):
    obs, dataset, pointing, irfs, inputs_gp, inputs_gx = run
    expected = gammapy_mask(gp, dataset, obs, methods, **kwargs)
    for inputs in (inputs_gp, inputs_gx):
        got = sm.make_mask_safe(geom, methods, pointing=pointing, **irfs, **inputs, **kwargs)
        assert got.mask.dims == geom.dims
        np.testing.assert_array_equal(got.mask.values, expected.reshape(got.mask.shape))
    return got


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("irfs", ["DL4", "DL3"])
@pytest.mark.parametrize("obs_id", RUNS)
def test_each_method_as_gammapy(gp, geoms, run_data, obs_id, irfs):
    geom = geoms[1]
    for method in METHODS:
        assert_same_masks(gp, geom, run_data[obs_id], [method], irfs=irfs)
    got = assert_same_masks(gp, geom, run_data[obs_id], METHODS, irfs=irfs)
    # the combination actually cuts something in energy
    assert 0 < got.mask.values.sum() < got.mask.size


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize(
    "kwargs",
    [
        {"aeff_percent": 40, "bias_percent": 3},
        {"position": SkyCoord(83.0, 22.5, unit="deg")},
        {"fixed_offset": 1.2 * u.deg},  # outside the map for 23526: nearest valid edisp pixel
        {"offset_max": "1.5 deg"},
        {"offset_max": "2.2 deg", "irfs": "DL3", "fixed_offset": 0.5 * u.deg},
    ],
    ids=["percent", "position", "fixed_offset", "offset_max", "dl3"],
)
def test_parameters_as_gammapy(gp, geoms, run_data, kwargs):
    geom = geoms[1]
    for obs_id in (23526, 23592):
        for method in ["aeff-max", "edisp-bias", "offset-max"]:
            got = assert_same_masks(gp, geom, run_data[obs_id], [method], **kwargs)
    if "offset_max" in kwargs:  # the cut removes pixels of the 1.6 deg-offset run 23592
        assert not got.mask.values.all()


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("obs_id", [23523, 23559])
def test_thresholds_as_gammapy(gp, geoms, run_data, obs_id):
    """The numbers behind the masks: Gammapy's own root finding on the same inputs."""
    geom = geoms[1]
    obs, dataset, pointing, irfs, inputs_gp, _ = run_data[obs_id]
    safe = sm.make_mask_safe(geom, METHODS, pointing=pointing, **irfs, **inputs_gp)
    position = dataset._geom.center_skydir
    livetime = dataset.exposure.meta["livetime"]
    aeff = dataset.exposure.get_spectrum(position) / livetime
    model = gp.modeling.models.TemplateSpectralModel.from_region_map(aeff)
    threshold = 0.1 * aeff.quantity.max()
    root = model.inverse(threshold, energy_min=model.energy[0], energy_max=model.energy[-1])
    assert safe.thresholds["aeff_max_energy_min"] == pytest.approx(
        root[0].to_value("TeV"), rel=1e-9
    )
    kernel = dataset.edisp.get_edisp_kernel(position=position, energy_axis=dataset._geom.axes[0])
    bias_energy = kernel.get_bias_energy(0.1)[0].to_value("TeV")
    assert safe.thresholds["edisp_bias_energy_min"] == pytest.approx(bias_energy, rel=1e-9)
    peak = np.argmax(dataset.background.get_spectrum().data.ravel())
    assert safe.thresholds["bkg_peak_energy_min"] == dataset._geom.axes[0].edges[peak].value
    assert safe.thresholds["aeff_default_energy_min"] == obs.aeff.meta["LO_THRES"]
    assert safe.energy_min == max(v for k, v in safe.thresholds.items() if "min" in k)


@pytest.fixture(scope="module")
def spectrum_data(gp, stores):
    from regions import CircleSkyRegion

    gstore, xstore = stores
    on = CircleSkyRegion(CRAB, 0.11 * u.deg)
    e = gp.maps.MapAxis.from_energy_bounds(0.3, 30, 40, unit="TeV")
    et = gp.maps.MapAxis.from_energy_bounds(0.1, 100, 48, unit="TeV", name="energy_true")
    empty = gp.datasets.SpectrumDataset.create(
        gp.maps.RegionGeom.create(on, axes=[e]), energy_axis_true=et
    )
    maker = gp.makers.SpectrumDatasetMaker(selection=["exposure", "edisp", "background"])
    ge = MapAxis.from_energy_bounds(0.3, 30, 40, unit="TeV")
    get = MapAxis.from_energy_bounds(0.1, 100, 48, unit="TeV", name="energy_true")
    geom = RegionGeom.create(on, axes=[ge])
    out = {}
    for obs_id in RUNS:
        obs = gstore.obs(obs_id)
        dataset = maker.run(empty.copy(name=str(obs_id)), obs)
        events = xstore.events(obs_id)
        pointing = pointing_of(events)
        irfs = {t: xstore.irf(obs_id, t).load() for t in ("aeff", "edisp", "bkg")}
        offset = CRAB.separation(pointing)
        livetime = obs.observation_live_time_duration.to_value("s")
        aeff = evaluate_aeff(irfs["aeff"], get.to_coordinate(), offset, extrapolate="fill")
        kernel = edisp_kernel(irfs["edisp"], get.to_coordinate(), ge.edges, offset)
        inputs_gx = {
            "exposure": geom.replace(axes=(get,)).wrap(aeff.values * livetime, "m2 s"),
            "edisp_kernel_map": geom.replace(axes=(get, ge)).wrap(
                kernel.transpose("energy_true", "energy").values
            ),
            "background": geom.wrap(dataset.background.data.ravel()),
        }
        inputs_gp = {
            "exposure": geom.replace(axes=(get,)).wrap(dataset.exposure.data.ravel(), "m2 s"),
            "edisp_kernel_map": geom.replace(axes=(get, ge)).wrap(
                dataset.edisp.edisp_map.data[..., 0, 0]
            ),
            "background": inputs_gx["background"],
        }
        out[obs_id] = (obs, dataset, pointing, irfs, inputs_gp, inputs_gx)
    return geom, out


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("obs_id", RUNS)
def test_spectrum_dataset_as_gammapy(gp, spectrum_data, obs_id):
    geom, runs = spectrum_data
    for method in METHODS:
        assert_same_masks(gp, geom, runs[obs_id], [method])
        assert_same_masks(gp, geom, runs[obs_id], [method], irfs="DL3")
    got = assert_same_masks(gp, geom, runs[obs_id], METHODS, offset_max="1.0 deg")
    assert got.mask.dims == ("energy",)

"""Model YAML files: round trips with Gammapy both ways, real files, and bad files."""

from __future__ import annotations

import math
import shutil

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.table import Table

import gammax.models as xm
from gammax.errors import DataFileNotFoundError, FormatError, UnitError
from gammax.geom import MapAxis, WcsGeom


def _gammax_collection(tmp_path):
    pl = xm.PowerLawSpectralModel(index=2.3, amplitude="2e-12 cm-2 s-1 TeV-1")
    pl.amplitude.min = 0.0
    pl.index.error = 0.1
    pl.index.max = 5.0
    lp = xm.LogParabolaSpectralModel(amplitude="1e-9 cm-2 s-1 MeV-1", reference="1 GeV")
    lp.alpha.prior = xm.GaussianPrior(mu=2.0, sigma=0.1)
    lp.beta.frozen = True
    absorption = xm.TemplateSpectralModel([0.1, 1, 10, 100] * u.TeV, [1.0, 0.9, 0.5, 0.01])
    a = xm.SkyModel(
        pl,
        xm.GaussianSpatialModel(
            lon_0="83 deg", lat_0="22 deg", sigma="0.2 deg", e=0.5, phi="30 deg", frame="icrs"
        ),
        name="a",
        datasets_names=["d1"],
    )
    b = xm.SkyModel(
        lp * absorption,
        xm.DiskSpatialModel(lon_0="1 deg", lat_0="2 deg", r_0="0.3 deg", frame="galactic"),
        xm.ExpDecayTemporalModel(t0="3 d", t_ref="55000 d"),
        name="b",
        apply_irf={"exposure": True, "psf": False, "edisp": True},
    )
    c = xm.SkyModel(xm.PowerLawSpectralModel(index=2.0), xm.ConstantSpatialModel(), name="c")
    d = xm.SkyModel(
        xm.SuperExpCutoffPowerLaw4FGLDR3SpectralModel(),
        xm.ShellSpatialModel(lon_0="10 deg", lat_0="0 deg", frame="galactic"),
        xm.SineTemporalModel(),
        name="d",
    )
    bkg = xm.FoVBackgroundModel("d1", xm.PowerLawNormSpectralModel(norm=1.2))
    models = xm.Models([a, b, bkg, c, d]).link("a.spectral.index", "c.spectral.index")
    names = models.free_parameter_names
    cov = np.diag(np.linspace(1, 2, len(names)) * 1e-4)
    cov[0, 1] = cov[1, 0] = 2e-5
    models.set_free_covariance(cov, space="value")
    return models


def _compare_parameters(gx_models, gp_models):
    """Every parameter occurrence: value, unit, error, bounds, frozen; and the covariance."""
    items = gx_models.parameter_items()
    gp_pars = gp_models.parameters
    assert len(items) == len(gp_pars)
    for (_, path, ours), theirs in zip(items, gp_pars, strict=True):
        assert ours.name == theirs.name, path
        assert u.Unit(ours.unit) == theirs.unit, path
        assert ours.value == pytest.approx(theirs.value, rel=1e-15), path
        assert ours.error == pytest.approx(theirs.error, rel=1e-12, abs=1e-300), path
        assert ours.frozen == theirs.frozen, path
        for bound in ("min", "max"):
            a, b = getattr(ours, bound), getattr(theirs, bound)
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), (path, bound)
    # covariance: Gammapy holds one row per occurrence; compare first occurrences
    first = {}
    for i, (key, _, _) in enumerate(items):
        first.setdefault(key, i)
    cov = gx_models.covariance
    idx = [cov.names.index(k) for k in first]
    gp_cov = gp_models.covariance.data[np.ix_(list(first.values()), list(first.values()))]
    np.testing.assert_allclose(gp_cov, cov.data[np.ix_(idx, idx)], rtol=1e-12, atol=1e-300)


@pytest.mark.gammapy
def test_gammax_file_reads_into_gammapy(gp, tmp_path):
    models = _gammax_collection(tmp_path)
    path = tmp_path / "models.yaml"
    models.write(path)
    assert (tmp_path / "models_covariance.dat").exists()
    theirs = gp.Models.read(path)
    assert theirs.names == models.names
    _compare_parameters(models, theirs)
    # the link survives as a shared Gammapy parameter object
    assert theirs["a"].spectral_model.index is theirs["c"].spectral_model.index
    assert theirs["b"].apply_irf["psf"] is False
    assert theirs["a"].datasets_names == ["d1"]
    assert theirs["d1-bkg"].datasets_names == ["d1"]
    prior = theirs["b"].spectral_model.model1.alpha.prior
    assert (prior.mu.value, prior.sigma.value) == (2.0, 0.1)
    # and the models evaluate the same
    energy = [0.3, 3.0, 30.0] * u.TeV
    for name in ("a", "b", "c", "d"):
        ours = models[name].spectral_model(energy)
        np.testing.assert_allclose(
            ours.values,
            theirs[name].spectral_model(energy).to_value(ours.attrs["units"]),
            rtol=1e-12,
        )
    assert theirs["b"].spatial_model.frame == "galactic"


@pytest.mark.gammapy
def test_gammapy_file_reads_into_gammax(gp, tmp_path):
    pl = gp.PowerLawSpectralModel(index=2.3, amplitude="2e-12 cm-2 s-1 TeV-1")
    pl.amplitude.min = 0
    a = gp.SkyModel(
        pl,
        gp.GaussianSpatialModel(lon_0="83 deg", lat_0="22 deg", sigma="0.2 deg", frame="icrs"),
        name="a",
        datasets_names=["d1"],
    )
    lp = gp.LogParabolaSpectralModel()
    lp.alpha.prior = gp.GaussianPrior(mu=2, sigma=0.1)
    tpl = gp.TemplateSpectralModel(energy=[1, 10, 100] * u.TeV, values=[1, 0.5, 0.1] * u.Unit(""))
    b = gp.SkyModel(
        lp * tpl,
        gp.PointSpatialModel(lon_0="1 deg", lat_0="2 deg", frame="galactic"),
        temporal_model=gp.ExpDecayTemporalModel(),
        name="b",
    )
    c = gp.SkyModel(gp.PowerLawSpectralModel(), gp.ConstantSpatialModel(), name="c")
    c.spectral_model.index = a.spectral_model.index  # Gammapy links by sharing objects
    e = gp.SkyModel(
        gp.BrokenPowerLawSpectralModel(),
        gp.GeneralizedGaussianSpatialModel(lon_0="5 deg", lat_0="1 deg", frame="galactic"),
        gp.LinearTemporalModel(),
        name="e",
    )
    f = gp.SkyModel(
        gp.PiecewiseNormSpectralModel([1, 3, 10] * u.TeV, norms=[1, 2, 3])
        * gp.PowerLawSpectralModel(),
        name="f",
    )
    bkg = gp.FoVBackgroundModel(dataset_name="d1")
    theirs = gp.Models([a, b, bkg, c, e, f])
    n = len(theirs.parameters)
    cov = np.diag(np.arange(1, n + 1) * 1e-3)
    cov[0, 1] = cov[1, 0] = 5e-4
    theirs.covariance = cov
    theirs.write(tmp_path / "gp.yaml")
    ours = xm.read_models(tmp_path / "gp.yaml")
    assert ours.names == theirs.names == ["a", "b", "d1-bkg", "c", "e", "f"]
    # the shared object became a link: one entry in the free vector
    assert ours["a"].spectral_model.index.link == ours["c"].spectral_model.index.link
    assert ours["a"].spectral_model.index.link in ours.free_parameter_names
    _compare_parameters(ours, theirs)
    assert ours["b"].spectral_model.model1.alpha.prior == xm.GaussianPrior(mu=2, sigma=0.1)
    # written back by gammax, the file is the same for Gammapy
    ours.write(tmp_path / "back.yaml")
    _compare_parameters(ours, gp.Models.read(tmp_path / "back.yaml"))
    assert xm.read_models(tmp_path / "back.yaml") == ours


@pytest.mark.gammapy
def test_template_models_round_trip_with_gammapy(gp, tmp_path):
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GpMapAxis
    from gammapy.maps import WcsGeom as GpWcsGeom

    geom = GpWcsGeom.create(skydir=(0, 0), npix=(10, 8), binsz=0.2, frame="galactic")
    tpl = Map.from_geom(geom, data=np.random.default_rng(0).uniform(1, 2, (8, 10)))
    tpl.write(tmp_path / "tpl.fits")
    table = Table(
        {"TIME": [0.0, 1.0, 2.0] * u.d, "NORM": [1.0, 2.0, 1.5]},
        meta={"MJDREFI": 55000, "MJDREFF": 0.0, "TIMESYS": "utc"},
    )
    table.write(tmp_path / "lc.fits")
    bkg_geom = GpWcsGeom.create(
        skydir=(0, 0),
        npix=(10, 8),
        binsz=0.2,
        frame="galactic",
        axes=[GpMapAxis.from_energy_bounds("1 TeV", "10 TeV", 3)],
    )
    Map.from_geom(bkg_geom, data=np.ones(bkg_geom.data_shape)).write(tmp_path / "npred.fits")
    theirs = gp.Models(
        [
            gp.SkyModel(
                gp.PowerLawSpectralModel(),
                gp.TemplateSpatialModel.read(str(tmp_path / "tpl.fits")),
                gp.LightCurveTemplateTemporalModel.read(str(tmp_path / "lc.fits")),
                name="diffuse",
            ),
            gp.TemplateNPredModel(
                Map.read(tmp_path / "npred.fits"),
                name="npred",
                filename=str(tmp_path / "npred.fits"),
                datasets_names=["d1"],
            ),
        ]
    )
    theirs.write(tmp_path / "t.yaml")
    ours = xm.read_models(tmp_path / "t.yaml")
    spatial = ours["diffuse"].spatial_model
    lon = np.array([-0.5, 0.1, 0.7])
    lat = np.array([-0.3, 0.0, 0.5])
    want = theirs["diffuse"].spatial_model(lon * u.deg, lat * u.deg).to_value("sr-1")
    # normalised with different pixel solid angles (exact vs Gammapy's approximation)
    np.testing.assert_allclose(spatial(lon, lat, "galactic").values, want, rtol=1e-5)
    assert ours["npred"].datasets_names == ["d1"]
    assert ours["npred"].evaluate().sum() == pytest.approx(240.0)
    from astropy.time import Time

    t = Time([55000.5, 55001.5], format="mjd")
    np.testing.assert_allclose(ours["diffuse"].temporal_model(t).values, [1.5, 1.75])
    _compare_parameters(ours, theirs)
    # gammax writes them back (template files kept, or created when missing)
    out = tmp_path / "out"
    out.mkdir()
    ours.write(out / "models.yaml")
    back = gp.Models.read(out / "models.yaml")
    assert back["npred"].map.data.sum() == pytest.approx(240.0)
    np.testing.assert_allclose(back["diffuse"].temporal_model(t).value, [1.5, 1.75], rtol=1e-12)


def test_gammax_round_trip_is_exact(tmp_path):
    models = _gammax_collection(tmp_path) + xm.FoVBackgroundModel("d2", name="custom")
    for full in (False, True):
        path = tmp_path / f"m{full}.yaml"
        models.write(path, full_output=full)
        back = xm.read_models(path)
        assert back == models
        assert back.free_parameter_names == models.free_parameter_names
    with pytest.raises(FileExistsError):
        models.write(tmp_path / "mFalse.yaml")
    # templates without a file get one next to the YAML
    geom = WcsGeom.create(
        skydir=(0, 0),
        npix=(6, 5),
        binsz=0.5,
        frame="galactic",
        axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2, name="energy_true")],
    )
    spatial = xm.TemplateSpatialModel(geom.wrap(np.arange(60.0).reshape(2, 5, 6) + 1))
    lc = xm.LightCurveTemplateTemporalModel([0, 1, 2], [1, 3, 2], t_ref=55000.0)
    sky = xm.Models([xm.SkyModel(xm.PowerLawSpectralModel(), spatial, lc, name="t")])
    sky.write(tmp_path / "tpl.yaml")
    assert (tmp_path / "tpl_t_spatial.fits").exists()
    assert (tmp_path / "tpl_t_temporal_lc.fits").exists()
    back = xm.read_models(tmp_path / "tpl.yaml")
    np.testing.assert_allclose(back["t"].spatial_model.map.values, spatial.map.values, rtol=1e-12)
    assert "tpl_t_spatial.fits" in (tmp_path / "tpl.yaml").read_text()


@pytest.mark.data
def test_real_fermi_3fhl_model_file(data_dir, tmp_path):
    path = data_dir / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_models.yaml"
    models = xm.read_models(path)
    assert models.names == ["Crab Nebula", "Fermi-LAT-bkg"]
    crab = models["Crab Nebula"]
    assert isinstance(crab.spectral_model, xm.LogParabolaSpectralModel)
    assert crab.spectral_model.amplitude.error == pytest.approx(0.003026327991562108)
    assert crab.spatial_model.frame == "icrs"
    assert models.free_parameter_names == (
        "Crab Nebula.spectral.amplitude",
        "Crab Nebula.spectral.alpha",
        "Crab Nebula.spectral.beta",
        "Fermi-LAT-bkg.spectral.norm",
    )
    assert models["Fermi-LAT-bkg"].spectral_model.norm.min == 0.0
    shutil.copy(path, tmp_path / "fermi.yaml")
    models.write(tmp_path / "fermi_out.yaml")
    assert xm.read_models(tmp_path / "fermi_out.yaml") == models


@pytest.mark.data
@pytest.mark.gammapy
def test_real_fermi_3fhl_model_file_matches_gammapy(gp, data_dir):
    path = data_dir / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_models.yaml"
    ours, theirs = xm.read_models(path), gp.Models.read(path)
    _compare_parameters(ours, theirs)
    energy = [0.01, 0.1, 1.0] * u.TeV
    got = ours["Crab Nebula"].spectral_model(energy)
    want = theirs["Crab Nebula"].spectral_model(energy).to_value(got.attrs["units"])
    np.testing.assert_allclose(got.values, want, rtol=1e-12)


@pytest.mark.data
def test_real_hawc_file_is_a_datasets_file(data_dir):
    path = data_dir / "hawc" / "DL4" / "HAWC_pass4_public_Crab.yaml"
    with pytest.raises(FormatError, match=r"components.*datasets.*not a models file") as err:
        xm.read_models(path)
    assert err.value.file == str(path)


# -- bad files -------------------------------------------------------------------------------
def _write(tmp_path, data):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _component(spectral=None, spatial=None, **extra):
    out = {
        "name": "src",
        "type": "SkyModel",
        "spectral": spectral
        or {
            "type": "PowerLawSpectralModel",
            "parameters": [
                {"name": "index", "value": 2.0},
                {"name": "amplitude", "value": 1e-12, "unit": "cm-2 s-1 TeV-1"},
                {"name": "reference", "value": 1.0, "unit": "TeV"},
            ],
        },
    }
    if spatial is not None:
        out["spatial"] = spatial
    out.update(extra)
    return {"components": [out]}


def test_unknown_spectral_tag_suggests_the_closest(tmp_path):
    data = _component({"type": "PowerLawSpectralModle", "parameters": []})
    with pytest.raises(FormatError) as err:
        xm.read_models(_write(tmp_path, data))
    msg = str(err.value)
    assert "unknown spectral model type 'PowerLawSpectralModle'" in msg
    assert "components[0] ('src').spectral" in msg
    assert "did you mean 'PowerLawSpectralModel'" in msg
    assert "LogParabolaSpectralModel" in msg and "'type' values" in msg
    assert "bad.yaml" in msg


def test_unknown_sky_and_spatial_tags(tmp_path):
    data = _component()
    data["components"][0]["type"] = "SkyModl"
    with pytest.raises(
        FormatError,
        match=r"unknown sky model type 'SkyModl'.*did you mean "
        r"'SkyModel'.*FoVBackgroundModel",
    ):
        xm.read_models(_write(tmp_path, data))
    data = _component(spatial={"type": "gaus", "frame": "icrs", "parameters": []})
    with pytest.raises(FormatError, match=r"spatial model type 'gaus'.*'gauss'"):
        xm.read_models(_write(tmp_path, data))
    data = _component({"type": "NaimaSpectralModel", "parameters": []})
    with pytest.raises(FormatError, match="Gammapy model that gammax does not support"):
        xm.read_models(_write(tmp_path, data))
    # short and case-insensitive tags are accepted
    data = _component()
    data["components"][0]["spectral"]["type"] = "PL"
    assert isinstance(
        xm.read_models(_write(tmp_path, data))["src"].spectral_model, xm.PowerLawSpectralModel
    )


def test_missing_and_unknown_parameters(tmp_path):
    data = _component()
    del data["components"][0]["spectral"]["parameters"][0]
    with pytest.raises(
        FormatError,
        match=r"parameter\(s\) \['index'\] missing for "
        r"PowerLawSpectralModel; expected parameters are "
        r"\['index', 'amplitude', 'reference'\]",
    ):
        xm.read_models(_write(tmp_path, data))
    data = _component()
    data["components"][0]["spectral"]["parameters"][0]["name"] = "indx"
    with pytest.raises(FormatError, match=r"unknown parameter 'indx'.*expected parameters"):
        xm.read_models(_write(tmp_path, data))
    data = _component()
    data["components"][0]["spectral"]["parameters"][0]["vlaue"] = 2.0
    with pytest.raises(FormatError, match=r"unknown field\(s\) \['vlaue'\]; valid fields"):
        xm.read_models(_write(tmp_path, data))


def test_bad_units(tmp_path):
    data = _component()
    data["components"][0]["spectral"]["parameters"][1]["unit"] = "cm-2 s-1 TeV"
    with pytest.raises(
        UnitError,
        match="parameter 'amplitude': unit 'cm-2 s-1 TeV' is not compatible with the expected unit",
    ) as err:
        xm.read_models(_write(tmp_path, data))
    assert "components[0] ('src').spectral" in str(err.value)
    data["components"][0]["spectral"]["parameters"][1]["unit"] = "furlong"
    with pytest.raises(UnitError, match="cannot parse unit 'furlong'"):
        xm.read_models(_write(tmp_path, data))


def test_other_structural_mistakes(tmp_path):
    spatial = {
        "type": "PointSpatialModel",
        "frame": "ecliptic",
        "parameters": [
            {"name": "lon_0", "value": 1, "unit": "deg"},
            {"name": "lat_0", "value": 1, "unit": "deg"},
        ],
    }
    with pytest.raises(
        FormatError, match="key 'frame': frame 'ecliptic' is not supported; expected one of"
    ):
        xm.read_models(_write(tmp_path, _component(spatial=spatial)))
    data = _component()
    del data["components"][0]["name"]
    with pytest.raises(FormatError, match="lacks 'name'"):
        xm.read_models(_write(tmp_path, data))
    data = _component()
    data["components"][0]["spectral"]["parameters"][0]["prior"] = {"type": "Gauss"}
    with pytest.raises(FormatError, match=r"unknown prior model type 'Gauss'.*GaussianPrior"):
        xm.read_models(_write(tmp_path, data))
    data = _component()
    data["components"][0]["spectral"]["parameters"][0]["frozen"] = "yes"
    with pytest.raises(FormatError, match="'frozen' is 'yes'; expected true or false"):
        xm.read_models(_write(tmp_path, data))
    data = {"components": [{"type": "FoVBackgroundModel"}]}
    with pytest.raises(FormatError, match="lacks 'datasets_names'"):
        xm.read_models(_write(tmp_path, data))
    data = _component(
        spatial={"type": "TemplateSpatialModel", "filename": "nope.fits", "frame": "icrs"}
    )
    with pytest.raises(DataFileNotFoundError, match=r"'nope\.fits' not found"):
        xm.read_models(_write(tmp_path, data))
    data = _component()
    data["covariance"] = "missing_covariance.dat"
    with pytest.raises(DataFileNotFoundError, match=r"covariance file 'missing_covariance\.dat'"):
        xm.read_models(_write(tmp_path, data))
    path = tmp_path / "broken.yaml"
    path.write_text("components: [a: b: c")
    with pytest.raises(FormatError, match="not valid YAML"):
        xm.read_models(path)


@pytest.mark.gammapy
def test_conditioning_scale_survives_a_round_trip(gp, tmp_path):
    models = xm.Models([xm.SkyModel(xm.PowerLawSpectralModel(), name="s")])
    x = models.free_vector()
    x[1] = 25.0  # amplitude 2.5e-11 with the scale (1e-12) chosen at construction
    models.set_free_vector(x)
    models.write(tmp_path / "s.yaml")
    back = xm.read_models(tmp_path / "s.yaml")
    assert back == models
    np.testing.assert_array_equal(back.free_vector(), x)
    theirs = gp.Models.read(tmp_path / "s.yaml")
    assert theirs.parameters["amplitude"].scale == 1e-12
    assert theirs.parameters["amplitude"].factor == pytest.approx(25.0)

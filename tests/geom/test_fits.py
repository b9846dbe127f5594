"""GADF FITS maps both ways; FITS -> xarray -> Zarr -> FITS round trips are exact."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.io import fits

from gammax import dims
from gammax.errors import FormatError
from gammax.geom import HpxGeom, LabelAxis, MapAxis, WcsGeom
from gammax.geom.fits import read_map, write_map
from gammax.units import parse_unit

ZARR_CONSOLIDATED = "ignore:Consolidated metadata is currently not part:UserWarning"


def _gammapy_maps():
    """Maps written by Gammapy: a WCS cube with two axes, partial and all-sky HEALPix."""
    from gammapy.maps import HpxGeom as GHpxGeom
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    energy = GMapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 5)
    rad = GMapAxis.from_edges([0.0, 0.1, 0.3], unit="deg", name="rad")
    rng = np.random.default_rng(2)
    wcs = GWcsGeom.create(
        skydir=SkyCoord(83.63, 22.01, unit="deg"),
        npix=(30, 20),
        binsz=0.05,
        proj="TAN",
        frame="icrs",
        axes=[energy, rad],
    )
    hpx_part = GHpxGeom.create(
        nside=64, frame="galactic", nest=False, region="DISK(10,5,6)", axes=[energy]
    )
    hpx_all = GHpxGeom.create(nside=8, frame="icrs", nest=True)
    return {
        "wcs": Map.from_geom(wcs, data=rng.random(wcs.data_shape), unit="cm-2 s-1"),
        "hpx_partial": Map.from_geom(hpx_part, data=rng.random(hpx_part.data_shape), unit="sr-1"),
        "hpx_allsky": Map.from_geom(hpx_all, data=rng.poisson(3, hpx_all.data_shape)),
    }


def _cards(hdul):
    out = {}
    for hdu in hdul:
        for key in (
            "CTYPE1",
            "CTYPE2",
            "CRPIX1",
            "CRPIX2",
            "CRVAL1",
            "CRVAL2",
            "CDELT1",
            "CDELT2",
            "NSIDE",
            "ORDERING",
            "COORDSYS",
            "INDXSCHM",
            "HPX_REG",
            "AXCOLS1",
            "AXCOLS2",
            "INTERP1",
            "INTERP2",
        ):
            if key in hdu.header:
                out[(hdu.name, key)] = hdu.header[key]
    return out


def _columns(hdul):
    out = {}
    for hdu in hdul:
        if isinstance(hdu, fits.BinTableHDU):
            for name in hdu.columns.names:
                out[(hdu.name, name)] = np.asarray(hdu.data[name])
        elif hdu.data is not None:
            out[(hdu.name, "data")] = np.asarray(hdu.data)
    return out


@pytest.mark.gammapy
@pytest.mark.filterwarnings(ZARR_CONSOLIDATED)
@pytest.mark.parametrize("kind", ["wcs", "hpx_partial", "hpx_allsky"])
def test_fits_xarray_zarr_fits_roundtrip_is_exact(kind, tmp_path):
    from gammapy.maps import Map

    gmap = _gammapy_maps()[kind]
    first = tmp_path / "gammapy.fits"
    gmap.write(first)
    gmap = Map.read(first)  # Gammapy stores HEALPix columns as float32
    m = read_map(first)
    np.testing.assert_array_equal(m.values, gmap.data)
    assert parse_unit(m.attrs["units"]) == gmap.unit
    xr.Dataset({"map": m}).to_zarr(tmp_path / "map.zarr", consolidated=True)
    z = xr.open_zarr(tmp_path / "map.zarr")["map"]
    assert z.gx.geom == m.gx.geom
    second = tmp_path / "gammax.fits"
    write_map(z, second)
    with fits.open(first) as a, fits.open(second) as b:
        assert _cards(a) == _cards(b)
        cols_a, cols_b = _columns(a), _columns(b)
        assert cols_a.keys() == cols_b.keys()
        for key, value in cols_a.items():
            np.testing.assert_array_equal(cols_b[key], value, err_msg=str(key))
    back = Map.read(second)
    assert back.geom == gmap.geom
    np.testing.assert_array_equal(back.data, gmap.data)
    assert read_map(second).gx.geom == m.gx.geom


@pytest.mark.gammapy
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
def test_gammax_maps_open_in_gammapy(dtype, tmp_path):
    from gammapy.maps import Map

    axes = [
        MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3),
        MapAxis.from_edges([0.0, 0.5, 1.0, 2.0], name=dims.RAD, unit="deg"),
    ]
    geoms = [
        WcsGeom.create(
            skydir=(0, 0), npix=(7, 5), binsz=0.2, proj="AIT", frame="galactic", axes=axes
        ),
        HpxGeom(16, False, "icrs", "DISK(83.6,22,20)", axes),
    ]
    rng = np.random.default_rng(0)
    for i, geom in enumerate(geoms):
        data = (rng.random(geom.shape) * 10).astype(dtype)
        m = geom.wrap(data, unit="" if dtype == "bool" else "s-1")
        path = tmp_path / f"map{i}.fits"
        m.gx.to_fits(path)
        gmap = Map.read(path)
        expected = data.astype(float) if dtype == "bool" else data
        if i == 1 and dtype == "float64":
            # Gammapy's HEALPix reader fills a float32 map whatever the column type.
            expected = expected.astype("float32")
        np.testing.assert_array_equal(gmap.data, expected)
        assert [a.name for a in gmap.geom.axes] == [dims.RAD, dims.ENERGY]
        for ours, theirs in zip(reversed(geom.axes), gmap.geom.axes, strict=True):
            np.testing.assert_allclose(theirs.edges.value, ours.edges, rtol=1e-12)
        if i == 0:
            lon, lat = geom.pix_to_world(3.0, 2.0)
            glon, glat = gmap.geom.pix_to_coord((3.0, 2.0))
            np.testing.assert_allclose(
                [lon, lat], [glon.to_value("deg"), glat.to_value("deg")], atol=1e-12
            )
        else:
            np.testing.assert_array_equal(np.sort(gmap.geom._ipix), geom.ipix)
        back = read_map(path)
        assert back.gx.geom == geom
        np.testing.assert_array_equal(back.values, data)


def test_label_axis_and_attrs_roundtrip(tmp_path):
    geom = WcsGeom.create(
        npix=(3, 2), binsz=0.5, axes=[LabelAxis("dataset", ("hess", "magic", "fact"))]
    )
    m = geom.wrap(
        np.arange(18.0).reshape(geom.shape),
        unit="TeV",
        attrs={"telescope": "H.E.S.S.", "livetime": 3600.0},
    )
    write_map(m, tmp_path / "m.fits")
    back = read_map(tmp_path / "m.fits")
    assert back.gx.geom == geom
    assert back.attrs["telescope"] == "H.E.S.S." and back.attrs["livetime"] == 3600.0


def test_bad_files_raise_format_errors(tmp_path):
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "empty.fits")
    with pytest.raises(FormatError, match="no WCS image"):
        read_map(tmp_path / "empty.fits")


@pytest.mark.data
@pytest.mark.gammapy
def test_reads_fermi_counts_cube_like_gammapy(data_dir):
    from gammapy.maps import Map

    path = data_dir / "fermi-3fhl-gc" / "fermi-3fhl-gc-counts-cube.fits.gz"
    ours = read_map(path)
    theirs = Map.read(path)
    np.testing.assert_array_equal(ours.values, theirs.data)
    assert ours.dims == (dims.ENERGY, dims.Y, dims.X)
    np.testing.assert_allclose(
        ours.gx.geom.axes[0].edges,
        theirs.geom.axes[0].edges.to_value(ours.gx.geom.axes[0].unit),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        ours.gx.geom.solid_angle().values,
        theirs.geom.to_image().solid_angle().to_value("sr"),
        rtol=1e-6,
    )


@pytest.mark.gammapy
def test_non_contiguous_time_axis_both_ways(tmp_path):
    import astropy.units as u
    from astropy.time import Time
    from gammapy.maps import Map, TimeMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    from gammax.geom import TimeAxis

    start = Time([55000.0, 55002.0], format="mjd", scale="tt")
    stop = Time([55001.0, 55002.5], format="mjd", scale="tt")
    geom = WcsGeom.create(npix=(3, 2), binsz=1.0, axes=[TimeAxis.from_gti(start, stop, unit="d")])
    m = geom.wrap(np.arange(12.0).reshape(geom.shape))
    write_map(m, tmp_path / "ours.fits")
    gmap = Map.read(tmp_path / "ours.fits")
    np.testing.assert_array_equal(gmap.data, m.values)
    np.testing.assert_allclose(gmap.geom.axes["time"].time_min.mjd, start.mjd, atol=1e-9)
    np.testing.assert_allclose(gmap.geom.axes["time"].time_max.mjd, stop.mjd, atol=1e-9)

    taxis = TimeMapAxis(
        edges_min=[0, 2] * u.d,
        edges_max=[1, 2.5] * u.d,
        reference_time=Time(55000.0, format="mjd", scale="tt"),
    )
    ggeom = GWcsGeom.create(npix=(3, 2), binsz=1.0, axes=[taxis])
    Map.from_geom(ggeom, data=np.arange(12.0).reshape(2, 2, 3)).write(tmp_path / "gp.fits")
    axis = read_map(tmp_path / "gp.fits").gx.geom.axes[0]
    assert isinstance(axis, TimeAxis) and not axis.is_contiguous
    np.testing.assert_allclose(axis.time_min.mjd, start.mjd, atol=1e-9)
    np.testing.assert_allclose(axis.time_max.mjd, stop.mjd, atol=1e-9)

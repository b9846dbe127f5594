"""Survey products on the mosaic of ``survey_scale.py``, chunk by chunk on a cluster (issue #8).

Input: the mosaic store written by ``survey_scale.py --keep`` and the archive
it was reduced from (built by ``make_archive.py``, whose population this
script rebuilds from the same ``--n-sources``/``--seed``/``--lon-range``)::

    python benchmarks/survey_products.py --mosaic /scratch/gps3000-mosaic.zarr \\
        --archive /scratch/gps3000 --out /scratch/gps3000-products

Steps, each timed, on a ``distributed.LocalCluster`` (``--workers``, 2 GB each):

1. **Exclusion**: correlated (0.1 deg) Cash significance of the mosaic against
   its IRF background; pixels above 5 sigma, dilated by 0.3 deg, are excluded.
2. **Ring background** (r_in 0.7 deg, width 0.4 deg, excluded pixels left out)
   and the correlated ON/OFF excess and Li & Ma significance maps (WStat),
   computed as dask graphs over the mosaic's 250-pixel chunks.
3. **TS map** of a point source (the mosaic's PSF) against the ring background,
   one dask task per 128-pixel tile.
4. **Detection vs flux**: an injected source is detected when the TS map
   reaches 5 sigma within max(0.1 deg, its size) of its position. The
   expectation per source is an Asimov TS map of the same cutout (ring
   background plus the predicted counts of every injected source, through the
   mosaic's exposure, PSF and energy dispersion), from which the detection
   probability is ``P = Phi(sqrt(TS_asimov) - 5)``; one task per source.
   Printed per flux bin: sources, detected, expected (sum of P, with its
   binomial spread), and a figure.
5. **Flux points of the brightest sources** from a joint likelihood over the
   per-observation datasets of every observation pointed within 1.7 deg of the
   source, evaluated on the cluster (``fit(..., client=)``,
   ``FluxPointsEstimator.run(..., client=)``); every other injected source
   whose emission reaches the cutout, and the diffuse ridge, are fixed at
   their true values; one background norm, shared by the datasets, is free
   (the archive's simulator scaled the background rate with the live time
   until 2026-11-30, 5% below what GADF and the reduction assume). The
   datasets come from a dedicated reduction of those observations on the
   cluster (``--fp-datasets dedicated``, the default): the source's cutout
   at the mosaic's pixel size and reconstructed-energy bins, with 80
   true-energy bins (0.05-250 TeV) and the background integrated over 8
   sub-bins per energy bin. The survey mosaic's own per-observation datasets
   (``--fp-datasets mosaic``) have 20 true-energy bins: enough for maps and
   detection, but their predicted counts per reconstructed bin are off by
   up to 12% for a spectrum (the energy dispersion is taken at the
   true-bin centre, as Gammapy does), which the statistics of a 0.7 Crab
   source over ~70 observations resolve at > 10 sigma. Printed: fitted vs
   injected index and flux, and per-bin pulls of the flux points against the
   injected spectrum.

Worker memory is sampled throughout. The last line is one JSON object (no
Gammapy contender here: the per-product comparisons with Gammapy are the
tests and ``bench_ts_map.py``/``bench_flux_points.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import MemoryTrace, local_cluster
from survey_scale import OFFSET_MAX

CORRELATION, EXCLUDE_SIGMA, EXCLUDE_DILATE = 0.1, 5.0, 0.3
RING_R_IN, RING_WIDTH = 0.7, 0.4
FLUX_BINS = np.geomspace(0.003, 1.0, 8)  # integral flux > 1 TeV, Crab units
STEPS = ("maps", "detection", "flux_points")


def population(args):
    import gammax.simulate as gs

    return gs.galactic_population(args.n_sources, seed=args.seed, lon_range=tuple(args.lon_range))


def source_table(models) -> dict[str, np.ndarray]:
    """Name, position, integral flux > 1 TeV (Crab units) and size of every injected source."""
    import astropy.units as u

    from gammax.simulate.population import CRAB_FLUX_1TEV

    rows = {"name": [], "lon": [], "lat": [], "flux_crab": [], "size": [], "kind": []}
    for m in models:
        p = m.spatial_model.parameters
        rows["name"].append(m.name)
        rows["lon"].append((p["lon_0"].value + 180.0) % 360.0 - 180.0)
        rows["lat"].append(p["lat_0"].value)
        flux = m.spectral_model.integral(1 * u.TeV, 1e4 * u.TeV)
        flux = u.Quantity(flux.values, flux.attrs["units"]).to_value("cm-2 s-1")
        rows["flux_crab"].append(float(flux) / CRAB_FLUX_1TEV)
        size = (
            p["sigma"].value if "sigma" in p.names else p["r_0"].value if "r_0" in p.names else 0.0
        )
        rows["size"].append(size)
        rows["kind"].append(type(m.spatial_model).__name__.replace("SpatialModel", ""))
    return {k: np.asarray(v) for k, v in rows.items()}


def sum_bands(maps, name):
    return maps[name].isel(energy=0) if "energy" in maps[name].dims else maps[name]


def exclusion_from(sqrt_ts: np.ndarray, binsz: float) -> np.ndarray:
    """True where usable: not within EXCLUDE_DILATE of a pixel above EXCLUDE_SIGMA."""
    from scipy import ndimage

    from gammax.geom.convolve import disk_kernel

    hot = np.nan_to_num(sqrt_ts, nan=0.0) > EXCLUDE_SIGMA
    structure = disk_kernel(EXCLUDE_DILATE / binsz) > 0
    return ~ndimage.binary_dilation(hot, structure=structure)


def ts_estimator():
    from gammax.estimators import TSMapEstimator

    return TSMapEstimator(kernel_width="0.4 deg", tile_size=128, selection_optional=None)


def with_ring_background(ds, ring_store: str):
    """The mosaic with its background replaced by the ring estimate (lazy)."""
    import xarray as xr

    ring_bkg = xr.open_zarr(ring_store, consolidated=False)["background"]
    return ds.assign(background=ds.background.copy(data=ring_bkg.data.astype(float)))


def source_expectation(mosaic: str, ring_store: str, row: dict, neighbours, radius: float):
    """Task: observed and Asimov (expected) sqrt(TS) at one source: at its position and peak.

    Both TS maps are computed on the same cutout with the same kernel (the
    PSF at the source); the peak is the largest value within ``radius``.
    """
    from astropy.coordinates import SkyCoord

    from gammax.datasets import MapDataset
    from gammax.fit import npred_signal

    warnings.simplefilter("ignore")
    position = SkyCoord(row["lon"], row["lat"], unit="deg", frame="galactic")
    width = 2 * radius + 0.8
    ds = with_ring_background(MapDataset.from_zarr(mosaic), ring_store)
    ds = MapDataset.cutout(ds, position, width).load()
    est = ts_estimator()
    geom = ds.counts.gx.geom.to_image()
    sep = geom.separation(position).values
    near = sep <= radius

    at = np.unravel_index(np.argmin(sep), sep.shape)

    def values(dataset):
        ts = est.run(dataset).sqrt_ts.isel(energy=0).values
        return float(ts[at]), float(np.nanmax(np.where(near, ts, -np.inf)))

    observed = values(ds)
    signal = npred_signal(ds, neighbours).values
    asimov = values(ds.assign(counts=ds.counts.copy(data=ds.background.values + signal)))
    return {"name": row["name"], "observed": observed, "asimov": asimov}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mosaic", required=True)
    p.add_argument("--archive", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--n-sources", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lon-range", type=float, nargs=2, default=(-60.0, 60.0))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="2GB")
    p.add_argument("--n-bright", type=int, default=3, help="sources with flux points")
    p.add_argument(
        "--fp-datasets",
        choices=("dedicated", "mosaic"),
        default="dedicated",
        help="flux points from a dedicated reduction (default) or the mosaic's datasets",
    )
    p.add_argument(
        "--steps",
        nargs="+",
        choices=STEPS,
        default=list(STEPS),
        help="steps to run (later steps reuse the stored outputs of earlier ones)",
    )
    p.add_argument(
        "--summarize",
        action="store_true",
        help="only recount the detections and redraw the figures from the outputs in --out",
    )
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.summarize:
        import xarray as xr

        out = Path(args.out)
        summary = {"benchmark": "survey_products", "detection": summarize_detections(out)}
        maps = xr.open_zarr(out / "excess_maps.zarr", consolidated=False)
        figures(out, maps, None, source_table(population(args)), summary)
        print(json.dumps(summary))
        return summary
    import psutil
    import xarray as xr
    from distributed import Client

    from gammax.datasets import MapDataset, MapDatasetOnOff
    from gammax.estimators import ExcessMapEstimator

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    summary: dict = {"benchmark": "survey_products", "mosaic": args.mosaic}
    models = population(args)
    table = source_table(models)
    table["covered"] = covered(args, table)
    summary["sources_covered"] = int(table["covered"].sum())

    with (
        local_cluster(args.workers, args.memory_limit) as cluster,
        Client(cluster) as client,
    ):
        procs = {a: psutil.Process(pid) for a, pid in client.run(os.getpid).items()}
        with MemoryTrace(procs) as trace, MemoryTrace({"client": psutil.Process()}) as me:
            ds = MapDataset.from_zarr(args.mosaic)
            geom = ds.counts.gx.geom
            binsz = float(geom.pixel_scales[0])
            summary["mosaic_shape"] = list(ds.counts.shape)

            ring_store = str(out / "ring_background.zarr")
            if "maps" in args.steps:
                # 1. exclusion mask from the IRF-background significance
                t0 = time.perf_counter()
                first = ExcessMapEstimator(f"{CORRELATION} deg", selection_optional=None).run(ds)
                sqrt_ts = sum_bands(first, "sqrt_ts").compute().values
                keep_np = exclusion_from(sqrt_ts, binsz)
                keep = geom.to_image().wrap(keep_np)
                timings["exclusion"] = time.perf_counter() - t0
                summary["excluded_fraction"] = round(float(1 - keep_np.mean()), 4)

                # 2. ring background, excess and significance
                t0 = time.perf_counter()
                on_off = MapDatasetOnOff.from_ring(ds, RING_R_IN, RING_WIDTH, exclusion=keep)
                alpha = on_off.acceptance / on_off.acceptance_off
                background = (alpha * on_off.counts_off).where(on_off.acceptance_off > 0, 0.0)
                background = background.reset_coords(drop=True).chunk({"y": 250, "x": 250})
                xr.Dataset({"background": background.rename("background")}).to_zarr(
                    ring_store, mode="w", consolidated=False
                )
                maps = ExcessMapEstimator(f"{CORRELATION} deg", selection_optional=None).run(on_off)
                maps = maps[["counts", "excess", "sqrt_ts", "npred_background"]].compute()
                maps.to_zarr(out / "excess_maps.zarr", mode="w", consolidated=False)
                timings["ring_excess"] = time.perf_counter() - t0
                sig = sum_bands(maps, "sqrt_ts").values
                off = np.isfinite(sig) & keep_np
                summary["significance_outside_exclusion"] = {
                    "mean": round(float(np.mean(sig[off])), 4),
                    "std": round(float(np.std(sig[off])), 4),
                    "pixels": int(off.sum()),
                }

                # 3. TS map against the ring background
                t0 = time.perf_counter()
                ts = ts_estimator().run(with_ring_background(ds, ring_store), client=client)
                ts[["ts", "sqrt_ts", "norm"]].to_zarr(
                    out / "ts_map.zarr", mode="w", consolidated=False
                )
                timings["ts_map"] = time.perf_counter() - t0
                summary["ts_map_max"] = float(np.nanmax(ts.ts.values))

            elif "detection" in args.steps:  # the maps of an earlier run in --out
                maps = xr.open_zarr(out / "excess_maps.zarr", consolidated=False)
                ts = xr.open_zarr(out / "ts_map.zarr", consolidated=False)

            # 4. detection fraction vs flux, against expectation
            t0 = time.perf_counter()
            if "detection" in args.steps:
                summary["detection"] = detection(args, client, models, table, ring_store, out)
                timings["detection"] = time.perf_counter() - t0

            # 5. flux points of the brightest sources (joint likelihood on the cluster)
            t0 = time.perf_counter()
            if "flux_points" in args.steps:
                summary["flux_points"] = bright_flux_points(args, client, models, table, out)
                timings["flux_points"] = time.perf_counter() - t0
        summary["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
        summary["workers_peak_rss_mb"] = sorted(round(v) for v in trace.peaks().values())
        summary["client_peak_rss_mb"] = round(me.peaks().get("client", 0.0))
    if "detection" in summary:
        figures(out, maps, ts, table, summary)
    print("timings (s):", summary["timings_s"])
    print(
        "peak RSS (MB): workers",
        summary["workers_peak_rss_mb"],
        "client",
        summary["client_peak_rss_mb"],
    )
    print(json.dumps(summary))
    return summary


def detection(args, client, models, table, ring_store, out) -> dict:
    """Detected fraction vs flux, observed and expected (Asimov), one task per source."""
    import dask
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    sky = SkyCoord(table["lon"], table["lat"], unit="deg", frame="galactic")
    inside = np.nonzero(table["covered"])[0]
    tasks = []
    for i in inside:
        radius = max(CORRELATION, float(table["size"][i]))
        reach = sky.separation(sky[i]).deg < radius + 0.4 + 3 * table["size"] + 0.3
        neighbours = [models[j] for j in np.nonzero(reach)[0]]
        row = {"name": str(table["name"][i]), "lon": float(table["lon"][i])}
        row["lat"] = float(table["lat"][i])
        tasks.append(
            dask.delayed(source_expectation, pure=False)(
                args.mosaic, ring_store, row, neighbours, radius
            )
        )
    results = client.gather(client.compute(tasks))
    t = Table({k: v[inside] for k, v in table.items()})
    t["sqrt_ts_at_position"] = [r["observed"][0] for r in results]
    t["sqrt_ts_peak"] = [r["observed"][1] for r in results]
    t["sqrt_ts_asimov"] = [r["asimov"][0] for r in results]
    t["sqrt_ts_asimov_peak"] = [r["asimov"][1] for r in results]
    t.write(out / "detections.ecsv", overwrite=True)
    return summarize_detections(out)


def summarize_detections(out: Path) -> dict:
    """Detections per flux bin from ``detections.ecsv``, against expectation.

    A source is detected when the TS map at its true position reaches 5 sigma.
    Its expected sqrt(TS) there is the Asimov value, around which the observed
    one scatters as N(sqrt(TS_asimov), 1): P(detected) = Phi(sqrt(TS_asimov) - 5).
    The peak within max(0.1 deg, size) is also counted: being the largest of
    many correlated pixels it sits above the expectation for faint sources.
    """
    from astropy.table import Table
    from scipy.stats import norm

    t = Table.read(out / "detections.ecsv")
    t["p_detect"] = norm.cdf(np.asarray(t["sqrt_ts_asimov"]) - 5.0)
    t["detected"] = np.asarray(t["sqrt_ts_at_position"]) >= 5.0
    t.write(out / "detections.ecsv", overwrite=True)
    p_det, detected = np.asarray(t["p_detect"]), np.asarray(t["detected"])
    peak = np.asarray(t["sqrt_ts_peak"]) >= 5.0
    bins = []
    idx = np.digitize(t["flux_crab"], FLUX_BINS)
    print(
        f"\n{'flux > 1 TeV (Crab)':>22s} {'N':>4s} {'detected':>8s} {'expected':>13s} {'peak':>5s}"
    )
    for k in range(1, len(FLUX_BINS)):
        sel = idx == k
        n, d = int(sel.sum()), int(detected[sel].sum())
        e, s = float(p_det[sel].sum()), float(np.sqrt(np.sum(p_det[sel] * (1 - p_det[sel]))))
        lo, hi = FLUX_BINS[k - 1], FLUX_BINS[k]
        print(
            f"{lo:9.4f} - {hi:9.4f}   {n:4d} {d:8d} {e:7.1f} +- {s:4.1f} {int(peak[sel].sum()):5d}"
        )
        bins.append(
            {"flux_lo": lo, "flux_hi": hi, "n": n, "detected": d, "expected": e, "sigma": s}
        )
        bins[-1]["detected_peak"] = int(peak[sel].sum())
    total_e = float(p_det.sum())
    total_s = float(np.sqrt(np.sum(p_det * (1 - p_det))))
    line = f"{'all':>22s} {len(t):4d} {int(detected.sum()):8d} {total_e:7.1f} +- {total_s:4.1f}"
    print(f"{line} {int(peak.sum()):5d}")
    return {
        "bins": bins,
        "detected": int(detected.sum()),
        "detected_peak": int(peak.sum()),
        "expected": round(total_e, 2),
        "expected_sigma": round(total_s, 2),
        "n_sources": len(t),
    }


def bright_flux_points(args, client, models, table, out) -> list[dict]:
    """Joint fit and flux points of the ``--n-bright`` brightest sources over their observations."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    import gammax
    import gammax.simulate as gs
    from gammax.datasets import MapDataset
    from gammax.estimators import FluxPointsEstimator
    from gammax.fit import fit
    from gammax.models import FoVBackgroundModel, Models
    from gammax.reduce import reduce_observations

    ids_all, pointings = reduced_pointings(args)
    sky = SkyCoord(table["lon"], table["lat"], unit="deg", frame="galactic")
    report = []
    order = [i for i in np.argsort(-table["flux_crab"]) if table["covered"][i]]
    for i in order[: args.n_bright]:
        t0 = time.perf_counter()
        truth = models[int(i)]
        size = float(table["size"][i])
        width = 1.0 + 2 * size
        # the observations pointed within 1.7 deg (the best-exposed part of each field)
        ids = [int(o) for o in ids_all[pointings.separation(sky[i]).deg < OFFSET_MAX - 0.8]]
        if args.fp_datasets == "mosaic":
            store, group = args.mosaic, "map/obs/{}"
            datasets = [
                MapDataset.cutout(
                    MapDataset.from_zarr(store, group.format(o), name=f"obs-{o}"), sky[i], width
                )
                for o in ids
            ]
        else:
            store = str(out / f"reduced_{table['name'][i]}.zarr")
            config = source_config(sky[i], width, MapDataset.from_zarr(args.mosaic))
            reduce_observations(
                gammax.open_datastore(args.archive),
                config,
                store,
                obs_ids=ids,
                stack=False,
                overwrite=True,
                client=client,
            )
            datasets = [MapDataset.from_zarr(store, f"map/obs/{o}", name=f"obs-{o}") for o in ids]
        t_reduce = time.perf_counter() - t0
        free = truth.copy()
        free.spectral_model.parameters["index"].value = 2.0
        free.spectral_model.parameters["amplitude"].value *= 0.7
        # every neighbour whose emission reaches the cutout joins at its true values
        # (frozen: the compiled likelihood folds them into one constant array)
        fixed = []
        near = sky.separation(sky[i]).deg - 3 * table["size"] < width / 2 + 0.2
        for j in np.nonzero(near)[0]:
            if j != i:
                m = models[int(j)].copy()
                m.freeze()
                fixed.append(m)
        # and the diffuse ridge, as make_archive.py injected it (fixed)
        lo, hi = args.lon_range
        diffuse = gs.galactic_diffuse(lon_range=(lo - 10.0, hi + 10.0))
        diffuse.freeze()
        # one background norm for all datasets (free in the fit, fixed in the flux points)
        bkgs = [FoVBackgroundModel(str(ds.attrs["name"])) for ds in datasets]
        fit_models = Models([free, *fixed, diffuse, *bkgs])
        fit_models.link(*(f"{b.name}.spectral.norm" for b in bkgs), label="background-norm")
        result = fit(datasets, fit_models, client=client)
        success = bool(result.success)
        result.close()  # release the workers' chunk groups before the flux points
        edges = datasets[0].counts.gx.geom.axis("energy").edges
        fpe = FluxPointsEstimator(edges, free.name, selection_optional=["ul"])
        fp = fpe.run(datasets, fit_models, client=client)
        e_ref = u.Quantity(fp["energy_ref"].values, fp["energy_ref"].attrs.get("units", "TeV"))
        true_norm = truth.spectral_model(e_ref).values / free.spectral_model(e_ref).values
        with np.errstate(invalid="ignore", divide="ignore"):
            pull = (fp["norm"].values.ravel() - true_norm) / fp["norm_err"].values.ravel()
        good = np.isfinite(pull) & (fp["ts"].values.ravel() > 4)
        fitted = free.spectral_model.parameters
        row = {
            "name": str(table["name"][i]),
            "kind": str(table["kind"][i]),
            "flux_crab": round(float(table["flux_crab"][i]), 4),
            "n_obs": len(ids),
            "success": success,
            "index_true": truth.spectral_model.parameters["index"].value,
            "index_fit": round(fitted["index"].value, 4),
            "index_err": round(fitted["index"].error, 4),
            "amplitude_ratio": round(
                fitted["amplitude"].value / truth.spectral_model.parameters["amplitude"].value, 4
            ),
            "amplitude_rel_err": round(fitted["amplitude"].error / fitted["amplitude"].value, 4),
            "background_norm": round(fit_models.parameter("background-norm").value, 4),
            "flux_point_pulls": [round(float(x), 2) for x in pull[good]],
            "datasets": args.fp_datasets,
            "reduce_seconds": round(t_reduce, 1),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps(row))
        fp.attrs = {k: v for k, v in fp.attrs.items() if isinstance(v, (str, int, float))}
        fp.to_zarr(out / f"flux_points_{row['name']}.zarr", mode="w", consolidated=False)
        report.append(row)
    return report


def source_config(position, width: float, mosaic):
    """Reduction of a bright source's cutout for its spectrum (see step 5 of the docstring)."""
    from gammax.geom import MapAxis, WcsGeom
    from gammax.reduce import MapReductionConfig

    geom = mosaic.counts.gx.geom
    energy_true = MapAxis.from_energy_bounds("0.05 TeV", "250 TeV", 80, name="energy_true")
    cutout = WcsGeom.create(
        skydir=position,
        width=width,
        binsz=float(geom.pixel_scales[0]),
        frame="galactic",
        proj="CAR",
        axes=[geom.axis("energy")],
    )
    return MapReductionConfig(
        geom=cutout,
        energy_axis_true=energy_true,
        products=("counts", "exposure", "background", "psf", "edisp"),
        binsz_irf=0.2,
        offset_max=OFFSET_MAX,
        background_oversampling=8,
    )


def reduced_pointings(args):
    """Ids and pointings (Galactic) of the observations reduced into the mosaic."""
    from astropy.coordinates import SkyCoord

    import gammax
    from gammax.reduce import zarr_store as zs

    obs = gammax.open_datastore(args.archive).obs_table
    done = np.isin(obs["obs_id"].values, sorted(zs.completed_observations(args.mosaic, "map")))
    ids = obs["obs_id"].values[done]
    lon, lat = obs["GLON_PNT"].values[done], obs["GLAT_PNT"].values[done]
    return ids, SkyCoord(lon, lat, unit="deg", frame="galactic")


def covered(args, table) -> np.ndarray:
    """Sources within 2 deg of a reduced pointing (inside the surveyed part of the strip)."""
    from astropy.coordinates import SkyCoord

    _, pointings = reduced_pointings(args)
    sky = SkyCoord(table["lon"], table["lat"], unit="deg", frame="galactic")
    _, sep, _ = sky.match_to_catalog_sky(pointings)
    return sep.deg < OFFSET_MAX - 0.5


def figures(out: Path, maps, ts, table, summary) -> None:
    """Significance strip (4 panels) with the injected sources, and detection vs flux."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sig = sum_bands(maps, "sqrt_ts")
    geom = sig.gx.geom
    lon, lat = (v.values for v in geom.to_image().get_coord().values())
    lon = (lon + 180.0) % 360.0 - 180.0
    fig, axes = plt.subplots(4, 1, figsize=(14, 9), constrained_layout=True)
    nx = sig.shape[-1]
    for k, ax in enumerate(axes):
        sl = slice(k * nx // 4, (k + 1) * nx // 4)
        extent = [lon[0, sl][0], lon[0, sl][-1], lat[0, 0], lat[-1, 0]]
        im = ax.imshow(
            sig.values[:, sl],
            origin="lower",
            extent=extent,
            vmin=-3,
            vmax=10,
            cmap="coolwarm",
            aspect="auto",
        )
        inside = (table["lon"] <= max(extent[:2])) & (table["lon"] >= min(extent[:2]))
        ax.scatter(
            table["lon"][inside],
            table["lat"][inside],
            s=8,
            facecolors="none",
            edgecolors="k",
            lw=0.5,
        )
        ax.set_ylabel("b (deg)")
    axes[-1].set_xlabel("l (deg)")
    fig.colorbar(im, ax=axes, label="significance (ring, Li & Ma, 0.1 deg)")
    fig.savefig(out / "significance_strip.png", dpi=110)
    plt.close(fig)

    bins = summary["detection"]["bins"]
    x = np.sqrt([b["flux_lo"] * b["flux_hi"] for b in bins])
    n = np.array([max(b["n"], 1) for b in bins], float)
    f = np.array([b["detected"] for b in bins]) / n
    fe = np.array([b["expected"] for b in bins]) / n
    se = np.array([b["sigma"] for b in bins]) / n
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    ax.errorbar(
        x,
        f,
        yerr=np.sqrt(np.clip(f * (1 - f), 1e-4, None) / n),
        fmt="o",
        label="detected (TS map >= 5 sigma)",
    )
    ax.fill_between(x, fe - se, fe + se, alpha=0.3, label="expected (Asimov) +- 1 sigma")
    ax.plot(x, fe, "-")
    ax.set_xscale("log")
    ax.set_xlabel("integral flux > 1 TeV (Crab units)")
    ax.set_ylabel("fraction detected")
    ax.legend()
    fig.savefig(out / "detection_fraction.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

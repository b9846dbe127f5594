"""AnalysisConfig: defaults, round trips and one test per class of mistake."""

from __future__ import annotations

import astropy.units as u
import pytest

from gammax.analysis import AnalysisConfig, default_config_yaml
from gammax.analysis.schema import SCHEMA
from gammax.errors import ConfigError


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        AnalysisConfig.from_yaml(text)
    return str(info.value)


def test_default_config_round_trips():
    text = default_config_yaml()
    config = AnalysisConfig.from_yaml(text)
    assert config == AnalysisConfig()
    assert AnalysisConfig.from_yaml(config.to_yaml()) == config
    # every key of the schema is written, with its documentation as a comment
    for path, key in SCHEMA.walk():
        assert f"{key.name}:" in text, path
        assert f"# {key.doc}" in text, path
    assert config.datasets.geom.wcs.binsize == 0.02 * u.deg
    assert config.compute.scheduler == "threads"


def test_values_parse_and_update():
    config = AnalysisConfig.from_yaml(
        """
        datasets:
          geom: {axes: {energy: {min: 500 GeV, max: 0.05 PeV, nbins: 12}}}
        compute: {scheduler: "tcp://127.0.0.1:8786", n_workers: 2, memory_limit: 2GB}
        """
    )
    assert config.datasets.geom.axes.energy.min.to_value("TeV") == pytest.approx(0.5)
    assert config.datasets.geom.axes.energy.max.to_value("TeV") == pytest.approx(50)
    # untouched keys keep their defaults
    assert config.datasets.geom.axes.energy_true.nbins == 16
    updated = config.update({"fit": {"backend": "scipy"}})
    assert updated.fit.backend == "scipy" and config.fit.backend == "minuit"
    assert updated.compute.n_workers == 2
    with pytest.raises(AttributeError, match="read-only"):
        config.fit.backend = "scipy"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a section name with a typo
        ("dataset: {type: 1d}", ["'dataset'", "top level", "datasets", "Did you mean 'datasets'"]),
        # a key with a typo, deep down
        (
            "datasets: {geom: {wcs: {binsz: 0.02 deg}}}",
            ["'binsz'", "'datasets.geom.wcs'", "binsize_irf", "Did you mean 'binsize'"],
        ),
        ("fit: {optimiser: x}", ["'optimiser'", "'fit'", "backend", "fit_range"]),
    ],
)
def test_unknown_key_names_key_section_and_choices(text, expected):
    message = _error(text)
    for part in expected:
        assert part in message, (part, message)


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        (
            "datasets: {geom: {axes: {energy: {min: 1 deg}}}}",
            "datasets.geom.axes.energy.min",
            "TeV",
        ),
        ("datasets: {geom: {wcs: {binsize: 0.02 TeV}}}", "datasets.geom.wcs.binsize", "deg"),
        ("excess_map: {correlation_radius: 0.1 degs}", "excess_map.correlation_radius", "deg"),
        ("datasets: {geom: {wcs: {binsize: 0.02}}}", "datasets.geom.wcs.binsize", "no unit"),
        ("compute: {memory_limit: 4 gigs}", "compute.memory_limit", "memory size"),
    ],
)
def test_bad_unit_names_key(text, key, hint):
    message = _error(text)
    assert message.startswith(key + ":"), message
    assert hint in message


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        (
            "datasets: {geom: {axes: {energy: {min: 10 TeV, max: 1 TeV, nbins: 3}}}}",
            "datasets.geom.axes.energy",
            "must be below max",
        ),
        ("flux_points: {energy: {min: 5 TeV, max: 5 TeV}}", "flux_points.energy", "below max"),
        ("datasets: {geom: {wcs: {binsize: -0.02 deg}}}", "datasets.geom.wcs.binsize", "> 0"),
        (
            "datasets: {geom: {wcs: {width: {width: 0 deg}}}}",
            "datasets.geom.wcs.width.width",
            "> 0",
        ),
        (
            "datasets: {geom: {axes: {energy: {nbins: 0}}}}",
            "datasets.geom.axes.energy.nbins",
            "> 0",
        ),
        ("compute: {n_workers: -1}", "compute.n_workers", "> 0"),
        ("fit: {fit_range: {min: 1 TeV}}", "fit.fit_range", "both min and max"),
        (
            "light_curve: {time_intervals: {start: ['2020-01-02'], stop: ['2020-01-01']}}",
            "light_curve.time_intervals",
            "bin 0",
        ),
        (
            "observations: {obs_time: {start: 2020-01-02, stop: 2020-01-01}}",
            "observations.obs_time",
            "before stop",
        ),
    ],
)
def test_impossible_range_names_key(text, key, hint):
    message = _error(text)
    assert message.startswith(key), message
    assert hint in message


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("compute: {n_workers: two}", "compute.n_workers", "expected an integer"),
        ("datasets: {stack: yes please}", "datasets.stack", "expected true or false"),
        ("observations: {obs_ids: [23523, abc]}", "observations.obs_ids[1]", "integer"),
        ("general: {outdir: 3}", "general.outdir", "expected a string"),
        ("datasets: {safe_mask: {parameters: [1, 2]}}", "datasets.safe_mask.parameters", "mapping"),
        ("datasets: {geom: 3}", "'datasets.geom'", "expected a mapping"),
        ("light_curve: {time_intervals: {start: [not a time], stop: [1]}}", "light_curve", "time"),
    ],
)
def test_bad_type_names_key(text, key, hint):
    message = _error(text)
    assert key in message and hint in message, message


@pytest.mark.parametrize(
    ("text", "key", "valid", "guess"),
    [
        ("datasets: {type: 2d}", "datasets.type", "'1d', '3d'", None),
        ("fit: {backend: minuti}", "fit.backend", "'minuit', 'scipy'", "minuit"),
        (
            "datasets: {background: {method: fov_background}}",
            "datasets.background.method",
            "'fov'",
            None,
        ),
        (
            "datasets: {safe_mask: {methods: [aeff-defualt]}}",
            "datasets.safe_mask.methods[0]",
            "'edisp-bias'",
            "aeff-default",
        ),
        ("general: {steps: [fit, fluxpoints]}", "general.steps[1]", "'light_curve'", "flux_points"),
        ("compute: {scheduler: thread}", "compute.scheduler", "'processes'", "threads"),
    ],
)
def test_bad_choice_names_key_and_valid_choices(text, key, valid, guess):
    message = _error(text)
    assert message.startswith(key + ":"), message
    assert valid in message
    if guess:
        assert f"Did you mean {guess!r}" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "datasets: {type: 1d, background: {method: fov}, "
            "on_region: {lon: 1 deg, lat: 1 deg, radius: 0.1 deg}}",
            "datasets.background.method",
        ),
        ("datasets: {type: 1d}", "datasets.on_region"),
        ("datasets: {type: 3d, background: {method: reflected}}", "datasets.background.method"),
        ("observations: {obs_cone: {lon: 1 deg}}", "observations.obs_cone"),
        ("models: {file: m.yaml, components: []}", "models"),
        (
            "datasets: {background: {exclusion: 'icrs; circel(1, 2, 3)'}}",
            "datasets.background.exclusion",
        ),
    ],
)
def test_inconsistent_options_name_key(text, key):
    assert _error(text).startswith(key)


def test_yaml_and_file_errors(tmp_path):
    assert "not valid YAML" in _error("datasets: {type: [")
    assert "mapping of sections" in _error("- a\n- b")
    with pytest.raises(ConfigError, match="not found") as info:
        AnalysisConfig.read(tmp_path / "missing.yaml")
    assert "missing.yaml" in str(info.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("fit: {backend: migrad}\n")
    with pytest.raises(ConfigError) as info:
        AnalysisConfig.read(bad)
    assert "fit.backend" in str(info.value) and "bad.yaml" in str(info.value)


def test_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("observations: {datastore: store, obs_file: $MY_RUNS/ids.txt}\n")
    monkeypatch.setenv("MY_RUNS", str(tmp_path / "runs"))
    config = AnalysisConfig.read(path)
    assert config.resolve(config.observations.datastore) == tmp_path / "store"
    assert config.resolve(config.observations.obs_file) == tmp_path / "runs" / "ids.txt"

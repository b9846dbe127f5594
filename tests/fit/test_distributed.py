"""The likelihood on a real ``distributed.LocalCluster``: same result, data stay on the workers.

Two worker processes, one thread each. The four Crab observations are opened
lazily from the reduction's Zarr store: the workers read their own blocks, so
the data never pass through the client. What we check:

- the fit (actors and tasks modes) equals the local fit bit for bit;
- each worker built its chunk group once and never received one (unpickling
  counter 0, constructions 1) however many evaluations ran;
- in tasks mode every per-evaluation task depends on exactly one key, the
  group future built before the fit, which stays on its one worker (no
  replica, no worker-to-worker transfer);
- what travels per evaluation is the factor vector: its pickle is < 1 kB while
  each worker holds megabytes.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from gammax.datasets import MapDataset
from gammax.fit import Likelihood, fit

from .conftest import CRAB_RUNS, crab_models

pytestmark = [pytest.mark.distributed, pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def observations(crab_zarr):
    return [MapDataset.from_zarr(crab_zarr, f"map/obs/{obs}") for obs in CRAB_RUNS]


def _models():
    return crab_models([str(o) for o in CRAB_RUNS])


@pytest.fixture(scope="module")
def local_result(observations):
    result = fit(observations, _models())
    yield result
    result.close()


@pytest.mark.parametrize("mode", ["actors", "tasks"])
def test_distributed_fit_equals_local(client, observations, local_result, mode):
    with fit(observations, _models(), client=client, mode=mode) as result:
        assert result.success
        np.testing.assert_array_equal(result.x, local_result.x)
        assert result.total_stat == local_result.total_stat
        np.testing.assert_array_equal(result.covariance_factors, local_result.covariance_factors)
        assert result.nfev == local_result.nfev


def test_actors_build_once_and_receive_only_vectors(client, observations):
    with Likelihood(observations, _models(), client=client) as like:
        before = like.worker_info()
        x = like.x0.copy()
        for k in range(20):
            x[0] = like.x0[0] * (1 + 0.001 * k)
            like(x)
        after = like.worker_info()
        assert len(after) == 2
        for b, a in zip(before, after, strict=True):
            assert a["calls"] - b["calls"] == 20
            assert a["unpickled"] == 0  # no group ever arrived by serialisation
            assert a["groups"] == b["groups"]  # nor was one rebuilt
            assert a["nbytes"] > 1e6
        assert len(pickle.dumps(x)) < 1000


def test_tasks_depend_on_the_prebuilt_groups_that_never_move(client, observations):
    with Likelihood(observations, _models(), client=client, mode="tasks") as like:
        groups = set(like.group_keys)
        homes = dict(zip(like.group_keys, like.workers, strict=True))
        incoming_before = client.run(
            lambda dask_worker: dask_worker.state.transfer_incoming_count_total
        )
        for _ in range(5):
            like(like.x0)

        def graph(dask_scheduler):
            out = {}
            for key, ts in dask_scheduler.tasks.items():
                out[str(key)] = (
                    [str(d.key) for d in ts.dependencies],
                    [w.address for w in ts.who_has],
                )
            return out

        tasks = client.run_on_scheduler(graph)
        for key in groups:
            assert tasks[str(key)][1] == [homes[key]]  # one replica, where it was built
        evaluations = [k for k in tasks if k.startswith("_group_stats")]
        for k in evaluations:
            deps = tasks[k][0]
            assert len(deps) == 1 and deps[0] in {str(g) for g in groups}
        incoming_after = client.run(
            lambda dask_worker: dask_worker.state.transfer_incoming_count_total
        )
        assert incoming_after == incoming_before  # nothing moved between workers


def test_existing_client_and_chunked_dataset(client, crab_zarr):
    stacked = MapDataset.from_zarr(crab_zarr, "map/stacked")
    local = Likelihood(stacked, crab_models(), chunks={"y": 100})
    with Likelihood(stacked, crab_models(), client=client, chunks={"y": 100}) as remote:
        assert remote.n_chunks == 2 and len(remote.workers) == 2
        np.testing.assert_array_equal(remote.chunk_stats(remote.x0), local.chunk_stats(local.x0))

"""The ``compute`` section: local schedulers and a LocalCluster of worker processes."""

from __future__ import annotations

import dask
import pytest

from gammax.analysis import AnalysisConfig
from gammax.analysis.compute import compute_context, describe


def test_local_schedulers_are_set_for_the_run():
    compute = AnalysisConfig({"compute": {"scheduler": "synchronous"}}).compute
    with compute_context(compute) as client:
        assert client is None
        assert dask.config.get("scheduler") == "synchronous"
    assert dask.config.get("scheduler", None) != "synchronous"
    compute = AnalysisConfig({"compute": {"n_workers": 3}}).compute
    with compute_context(compute) as client:
        assert dask.config.get("num_workers") == 3
        assert describe(client, compute) == "local dask scheduler 'threads', 3 workers"


@pytest.mark.distributed
def test_processes_start_a_local_cluster_with_the_limits():
    compute = AnalysisConfig(
        {"compute": {"scheduler": "processes", "n_workers": 1, "memory_limit": "1GB"}}
    ).compute
    with compute_context(compute) as client:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 1
        (worker,) = workers.values()
        assert worker["memory_limit"] == 10**9
        assert client.submit(sum, [1, 2]).result() == 3
    assert client.status == "closed"

"""Scale-out: a search on a multi-node Ray cluster survives losing a node. The trials running on the lost node run
again elsewhere (the node's loss is not the candidates' fault), a candidate that kills its own worker is still a
failed trial, and the history equals an uninterrupted run's."""

from __future__ import annotations

import threading
import time

import pytest

from videonas.search import TrialStore, run_search

MIB = 1024**2
SEARCH = dict(space={"family": "toy", "options": {"length": 6, "choices": 3}}, num_trials=8, batch_size=4, seed=7,
              strategy={"name": "regularized", "options": {"population_size": 4}})
# Genomes whose first value is 2 end their worker (os._exit): a crashing candidate, not a lost node.
EVALUATE = {"function": "videonas.search.synthetic:evaluate", "options": {"delay_s": 1.5, "failures": {"2": "exit"}}}


def _history(experiment):
    return [(t.index, t.genome_key, t.parent, t.status, t.fitness) for t in experiment.trials()]


def _kill_a_busy_node(cluster, workers, store, name, killed):
    """Once two trials run, remove a worker node that hosts a live actor (the driver's node is the head)."""
    import ray._private.state as ray_state

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with TrialStore(store, read_only=True) as reader:
            if len(reader.trials(name, status="running")) < 2:
                continue
        hosts = {actor["Address"]["NodeID"] for actor in ray_state.actors().values() if actor["State"] == "ALIVE"}
        for node in workers:
            if node.node_id in hosts:
                cluster.remove_node(node)
                killed.append(node.node_id)
                return


@pytest.mark.slow
def test_a_search_loses_a_node_and_finishes_with_the_uninterrupted_history(tmp_path):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    reference = run_search("cluster", store=tmp_path / "reference.sqlite", evaluate=EVALUATE, progress=False,
                           executor={"kind": "subprocess", "options": {"max_workers": 2}}, **SEARCH)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 * MIB})
    try:
        workers = [cluster.add_node(num_cpus=1, object_store_memory=80 * MIB) for _ in range(3)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        store, killed = tmp_path / "cluster.sqlite", []
        killer = threading.Thread(target=_kill_a_busy_node, args=(cluster, workers, store, "cluster", killed))
        killer.start()
        survived = run_search("cluster", store=store, evaluate=EVALUATE, progress=False,
                              executor={"kind": "ray", "options": {"address": cluster.address, "max_workers": 2}},
                              **SEARCH)
        killer.join()
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert killed, "no node was removed while trials ran"
    assert _history(survived) == _history(reference)
    crashed = [t for t in survived.trials() if t.status == "failed"]
    assert crashed and all("worker died" in t.error for t in crashed)  # its own fault: failed, not re-run

"""Sweeps on a real local Ray instance with two worker processes."""
import os
import signal
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from mlplab.training import sweeps as sweeping  # noqa: E402
from mlplab.store.store import Store  # noqa: E402
from mlplab.stored import RunArtifacts  # noqa: E402

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

SPEC = {"train": {"epochs": 3, "early_stopping": False},
        "sweep": {"grid": {"model.hidden": [[16], [32]], "train.learning_rate": [0.003, 0.03]}}}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def histories(store, result):
    return {tuple(map(str, row["values"].values())): store.get_run(row["runs"][0])["history"] for row in result.rows}


def _kill_first_task_worker(killed: list, stop: threading.Event) -> None:
    """Kill -9 the first worker process seen running a training task."""
    while not stop.is_set() and not killed:
        for pid in filter(str.isdigit, os.listdir("/proc")):  # no fork: this process runs JAX threads
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read()
            except OSError:
                continue
            if b"ray::_train_task" in title:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.05)


def test_ray_retries_a_killed_worker_and_gives_the_local_numbers(local_ray, tmp_path):
    local_store, ray_store = Store(tmp_path / "local"), Store(tmp_path / "ray")
    local = sweeping.run_sweep(SPEC, local_store)
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_first_task_worker, args=(killed, stop))
    killer.start()
    try:
        remote = sweeping.run_sweep(SPEC, ray_store, executor="ray")
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was running a task"
    # every member exactly once, all trained, with the numbers the local executor gives
    runs = ray_store.list_runs(sweep_id=remote.sweep_id)
    assert len(runs) == 4 and len({r["name"] for r in runs}) == 4
    assert {r["status"] for r in runs} == {"ok"} and all(r["epochs_run"] == 3 for r in runs)
    a, b = histories(local_store, local), histories(ray_store, remote)
    assert a.keys() == b.keys() and len(a) == 4
    for key in a:
        np.testing.assert_allclose(a[key]["loss"], b[key]["loss"], rtol=1e-6)
        np.testing.assert_allclose(a[key]["val_accuracy"], b[key]["val_accuracy"], rtol=1e-6)
    # the driver wrote the artifacts: each member's trained weights, its model made from them on demand
    assert all((ray_store.artifact_dir(r["id"]) / "weights_final.npz").exists() for r in runs)
    assert all(RunArtifacts(ray_store, ray_store.get_run(r["id"])).has_model for r in runs)

"""Names, tags, notes and deleting in the store (store.labels, store.removal): fast, no training."""
import os

import pytest

from mlplab.errors import BadInput
from mlplab.store import Store
from mlplab.store.artifacts import POPULATION
from mlplab.store.encoding import dumps


def finished(store: Store, name: str, **summary) -> str:
    run_id = store.create_run(name=name, spec={}, dataset="digits")
    store.log_epoch(run_id, 1, {"loss": 1.0}, 0.1)
    store.finish_run(run_id, status="ok", epochs_run=1, best_epoch=1, seconds=0.1, test_loss=1.0,
                     test_accuracy=0.5, params=10, warnings=[], summary=summary)
    store.write_artifact(run_id, "history.csv", "epoch,loss\n1,1.0\n")
    return run_id


def test_tags_notes_and_names(tmp_path):
    store = Store(tmp_path)
    a, b = finished(store, "a"), finished(store, "b")
    assert store.tag("run", a, add=["keep", "lr.0-01", "keep"]) == ["keep", "lr.0-01"]
    assert store.tag("run", a, remove=["lr.0-01"]) == ["keep"]
    assert store.note("run", a, "  the best so far \n") == "the best so far"
    assert store.rename("run", b, "  second  ") == "second"
    assert [r["id"] for r in store.list_runs(tag="keep")] == [a]
    assert store.list_runs(tag="nothing") == []
    run = store.get_run(a)
    assert (run["tags"], run["note"], store.get_run(b)["name"]) == (["keep"], "the best so far", "second")
    assert store.note("run", a, "") == "" and store.get_run(a)["note"] == ""
    assert store.set_tags("run", a, ["x", "y"]) == ["x", "y"] and store.all_tags() == ["x", "y"]


def test_tags_of_reads_the_ids_asked_for_across_chunks(tmp_path, monkeypatch):
    import mlplab.store.labels as labels
    monkeypatch.setattr(labels, "TAG_CHUNK", 2)   # five ids: three queries
    store = Store(tmp_path)
    ids = [finished(store, f"r{i}") for i in range(5)]
    for i, run_id in enumerate(ids):
        store.set_tags("run", run_id, ["z", f"t{i}"] if i % 2 else [f"t{i}"])
    assert store.tags_of("run", ids[1:4]) == {ids[1]: ["t1", "z"], ids[2]: ["t2"], ids[3]: ["t3", "z"]}
    assert store.tags_of("run", []) == {} and len(store.tags_of("run")) == 5
    assert [r["tags"] for r in store.list_runs()] == [["t4"], ["t3", "z"], ["t2"], ["t1", "z"], ["t0"]]


@pytest.mark.parametrize("call, message", [
    (lambda s, r: s.tag("run", r, add=["has space"]), "tag 'has space': expected 1-40 characters"),
    (lambda s, r: s.tag("run", r, add=["x" * 41]), "expected 1-40 characters"),
    (lambda s, r: s.tag("run", r, add=[""]), "tag '': expected"),
    (lambda s, r: s.rename("run", r, "two\nlines"), "without line breaks"),
    (lambda s, r: s.rename("run", r, "   "), "name '   ': expected 1-200 characters"),
    (lambda s, r: s.note("run", r, "x" * 10_001), "note of 10001 characters: expected at most 10000"),
    (lambda s, r: s.list_runs(tag="a b"), "tag 'a b'"),
])
def test_bad_values_are_one_line_and_change_nothing(tmp_path, call, message):
    store = Store(tmp_path)
    run_id = finished(store, "a")
    with pytest.raises(BadInput, match=message) as e:
        call(store, run_id)
    assert "\n" not in str(e.value)
    run = store.get_run(run_id)
    assert (run["name"], run["tags"], run["note"]) == ("a", [], "")


def test_delete_removes_one_run_whole_and_never_another(tmp_path):
    store = Store(tmp_path)
    a, b = finished(store, "a"), finished(store, "b")
    store.tag("run", a, add=["junk"])
    store.tag("run", b, add=["junk"])
    assert store.delete_runs([a]) == [a]
    assert [r["id"] for r in store.list_runs()] == [b]
    assert store.history(b)["loss"] == [1.0] and store.get_run(b)["tags"] == ["junk"]
    assert not (store.artifacts / a).exists() and (store.artifacts / b / "history.csv").is_file()
    assert sorted(os.listdir(store.artifacts)) == [b]   # no trash left behind
    rows = store._query("SELECT (SELECT COUNT(*) FROM epochs WHERE run_id = ?), "
                        "(SELECT COUNT(*) FROM run_tags WHERE run_id = ?)", (a, a))[0]
    assert tuple(rows) == (0, 0)
    with pytest.raises(BadInput, match="no such run"):
        store.get_run(a)


def test_delete_refuses_a_running_run_and_deletes_nothing(tmp_path):
    store = Store(tmp_path)
    done = finished(store, "done")
    running = store.create_run(name="running", spec={}, dataset="digits")   # this process: alive
    with pytest.raises(BadInput, match=f"run {running}: still running .*nothing was deleted"):
        store.delete_runs([done, running])
    assert {r["id"] for r in store.list_runs()} == {done, running}
    assert (store.artifacts / done).is_dir()


def test_a_folder_already_gone_is_no_obstacle(tmp_path):
    store = Store(tmp_path)
    a = finished(store, "a")
    (store.artifacts / a / "history.csv").unlink()
    (store.artifacts / a).rmdir()
    assert store.delete_runs([a]) == [a] and store.list_runs() == []


def test_deleting_a_populations_first_run_hands_its_file_to_the_others(tmp_path):
    store = Store(tmp_path)
    first = finished(store, "first")
    others = [finished(store, f"m{i}") for i in range(2)]
    for run_id in [first, *others]:   # as training.record writes a population's pointers
        summary = {"weights": {"run": first, "file": POPULATION, "key": run_id}}
        store._query("UPDATE runs SET summary_json = ? WHERE id = ?", (dumps(summary), run_id))
    store.write_artifact(first, POPULATION, b"the population's weights")
    store.delete_runs([first])
    heir = sorted(others)[0]
    for run_id in others:
        weights = store.get_run(run_id)["summary"]["weights"]
        assert weights == {"run": heir, "file": f"population-{first}.npz", "key": run_id}
    assert (store.artifacts / heir / f"population-{first}.npz").read_bytes() == b"the population's weights"
    assert not (store.artifacts / first).exists()


def test_a_sweep_goes_with_its_runs_and_nothing_else(tmp_path):
    store = Store(tmp_path)
    sweep_id = store.create_sweep(name="s", spec={})
    members = [store.create_run(name=f"m{i}", spec={}, dataset="digits", sweep_id=sweep_id) for i in range(2)]
    for m in members:
        store.set_status(m, "ok")
    store.finish_sweep(sweep_id, status="ok", summary={})
    alone = finished(store, "alone")
    assert store.tag("sweep", sweep_id, add=["grid"]) == ["grid"]
    assert store.note("sweep", sweep_id, "first try") == "first try"
    assert store.rename("sweep", sweep_id, "grid-1") == "grid-1"
    listed = store.list_sweeps()[0]
    assert (listed["name"], listed["tags"], listed["note"]) == ("grid-1", ["grid"], "first try")
    gone_id, gone_runs = store.delete_sweep(sweep_id)
    assert gone_id == sweep_id and sorted(gone_runs) == sorted(members)
    assert [r["id"] for r in store.list_runs()] == [alone] and store.list_sweeps() == []
    assert sorted(os.listdir(store.artifacts)) == [alone]


def test_deleting_a_sweeps_member_leaves_its_table_with_the_runs_it_still_has(tmp_path):
    store = Store(tmp_path)
    sweep_id = store.create_sweep(name="s", spec={})
    a1, a2, b1 = (store.create_run(name=n, spec={}, dataset="digits", sweep_id=sweep_id) for n in ("a1", "a2", "b1"))
    for m in (a1, a2, b1):
        store.set_status(m, "ok")
    rows = [{"values": {"lr": 0.1}, "runs": [b1], "rank": 1}, {"values": {"lr": 0.01}, "runs": [a1, a2], "rank": 2}]
    store.finish_sweep(sweep_id, status="ok", summary={"rows": rows, "best": rows[0], "note": "seed noise"})
    store.delete_runs([b1, a2])
    summary = store.get_sweep(sweep_id)["summary"]
    assert summary["rows"] == [{"values": {"lr": 0.01}, "runs": [a1], "rank": 2}] and summary["best"]["runs"] == [a1]
    assert summary["deleted_runs"] == sorted([b1, a2]) and summary["note"] == "seed noise"

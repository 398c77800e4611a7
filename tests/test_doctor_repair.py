"""End to end: a digits run with an injected fault gets the right cause first, and `mlplab doctor --fix`
trains candidate fixes that resolve it, stored as runs linked to the original."""
import json

import pytest

import mlplab as ml
from mlplab.cli import main
from mlplab.store import Store


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("repair")


def test_unscaled_inputs_are_named_first_and_the_verified_repair_resolves_them(home, capsys):
    # raw pixels (0..16) with SGD at 0.1: the loss blows up; on scaled inputs the same set-up is healthy
    run = ml.run(None, {"data.scale": "none", "train.optimizer": "sgd", "train.learning_rate": 0.1,
                        "train.epochs": 5}, store=home, progress=False)
    first = run.findings[0]
    assert (first.kind, first.code, first.suggestion) == ("cause", "unscaled_inputs", "--set data.scale=unit")
    assert first.severity in ("error", "warning") and first.explains

    capsys.readouterr()
    assert main(["--home", str(home), "doctor", run.id, "--fix", "--candidates", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    report = doc["repair"]
    assert doc["findings"][0]["code"] == "unscaled_inputs"
    assert report["candidates"][0]["fix"] == {"data.scale": "unit"}
    best = report["best"]
    assert best["fix"] == {"data.scale": "unit"} and best["resolved"] and best["problems"] == []
    assert best["test_accuracy"] > max(report["test_accuracy"], 0.9)

    store = Store(home)
    repaired = store.get_run(best["run_id"])
    assert repaired["name"] == f"repair of {run.id}: --set data.scale=unit"
    assert repaired["summary"]["repair_of"] == {"run": run.id, "fix": {"data.scale": "unit"}, "cause": "unscaled_inputs"}
    assert repaired["spec"]["seed"] == run.spec["seed"] and repaired["spec"]["train"]["epochs"] == 5
    assert repaired["spec"]["data"]["scale"] == "unit"
    stored = json.loads((store.artifact_dir(run.id) / "repair.json").read_text())
    assert stored["best"]["run_id"] == best["run_id"]


def test_a_healthy_run_has_nothing_to_repair_and_trains_nothing(home):
    run = ml.run(None, {"train.epochs": 3}, store=home, progress=False)
    before = len(Store(home).list_runs())
    report = run.repair()
    assert report.candidates == [] and report.best is None and "nothing to repair" in str(report)
    assert len(Store(home).list_runs()) == before


def test_a_stopped_repair_judges_nothing_and_keeps_the_last_report(tmp_path, monkeypatch):
    """Ctrl-C (the dashboard's Stop) during the candidates: interrupted, and repair.json is not overwritten."""
    import dataclasses
    from mlplab.spec import load_spec
    from mlplab.training import repair as repairing
    from mlplab.training.runner import run_experiment
    store = Store(tmp_path)
    run_id = run_experiment(load_spec(None, ["data.scale=none", "train.epochs=2"]), store).run_id
    store.write_json(run_id, "repair.json", {"finished": True})
    real = repairing.run_experiments

    def stopped(experiments, store, **kw):
        [first] = real(experiments[:1], store, **kw)   # the first candidate, then Stop
        store.set_status(first.run_id, "interrupted")
        return [dataclasses.replace(first, status="interrupted")]
    monkeypatch.setattr(repairing, "run_experiments", stopped)
    with pytest.raises(KeyboardInterrupt):
        repairing.repair(store, run_id)
    assert json.loads((store.artifact_dir(run_id) / "repair.json").read_text()) == {"finished": True}
    [candidate] = [store.get_run(r["id"]) for r in store.list_runs() if r["id"] != run_id]
    assert candidate["status"] == "interrupted" and candidate["summary"]["repair_of"]["run"] == run_id


def test_candidates_that_run_the_originals_programs_train_alone_the_others_together(tmp_path, monkeypatch):
    """A candidate with the original's model, optimizer and shapes trains alone (its programs are the original's,
    in the compilation cache); the others train as one call; the report keeps the candidates' order."""
    from mlplab.spec import load_spec
    from mlplab.training import repair as repairing
    from mlplab.training.runner import run_experiment
    store = Store(tmp_path)
    run_id = run_experiment(load_spec(None, ["data.scale=none", "train.epochs=2", "model.hidden=[16]"]), store).run_id
    fixes = [({"model.batchnorm": True}, "a"), ({"train.learning_rate": 0.002}, "b"),
             ({"model.hidden": [24]}, "c"), ({"data.scale": "unit", "model.init": "he_normal"}, "d")]
    monkeypatch.setattr(repairing, "candidate_fixes", lambda findings, limit=3: fixes)
    calls, real = [], repairing.run_experiments

    def recorded(experiments, store, **kw):
        calls.append([e.name.split(": ")[1] for e in experiments])
        return real(experiments, store, **kw)
    monkeypatch.setattr(repairing, "run_experiments", recorded)
    report = repairing.repair(store, run_id)
    assert calls == [["--set train.learning_rate=0.002"], ["--set data.scale=unit --set model.init=he_normal"],
                     ["--set model.batchnorm=true", "--set model.hidden=[24]"]]
    for c, (fix, _) in zip(report.candidates, fixes):
        run = store.get_run(c.run_id)
        assert c.fix == fix == run["summary"]["repair_of"]["fix"] and run["name"].endswith(c.text)
    assert store.get_run(report.candidates[0].run_id)["spec"]["model"]["batchnorm"] is True


def test_programs_are_shared_by_experiments_that_compute_the_same_function():
    from mlplab.data import load_data
    from mlplab.spec import load_spec
    from mlplab.training.population import build_population, compiled_for, optimizer_kind, shares_programs

    def compiled(*overrides):
        exp = load_spec(None, ["model.hidden=[16]", *overrides])
        info = load_data(exp).info
        _, members, program = build_population([exp], [optimizer_kind(exp)], info)
        return exp, compiled_for(exp, program, members, info)
    base, c = compiled()
    other, c2 = compiled("data.scale=standard", "train.learning_rate=0.01", "model.init=he_normal", "train.epochs=3")
    assert c2 is c and shares_programs(base, other)
    for different in (["model.batchnorm=true"], ["model.hidden=[8]"], ["train.optimizer=sgd"], ["model.l2=0.001"]):
        other, c2 = compiled(*different)
        assert c2 is not c and not shares_programs(base, other)
    assert not shares_programs(base, load_spec(None, ["model.hidden=[16]", "train.batch_size=64"]))
    assert not shares_programs(base, load_spec(None, ["model.hidden=[16]", "data.validation_split=0.2"]))

"""End to end: a digits run with an injected fault gets the right cause first, and `mlplab doctor --fix`
trains candidate fixes, stored as runs linked to the original, and answers with the best on validation
(within noise, the simpler); then, without training, the rule that chooses the answer (`choose`)."""
import json

import pytest

import mlplab as ml
from mlplab.cli import main
from mlplab.store import Store


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("repair")


@pytest.mark.slow
def test_raw_pixels_with_sgd_at_0_1_name_the_inputs_first_and_the_verified_repair_answers_with_a_better_run(home, capsys):
    # raw pixels (0..16) with SGD at 0.1 (within SGD's usual range): the loss blows up. The unscaled inputs are
    # named first, the rate after them: on the oracle benchmark scaling was a right fix for 6 of 9 such diverged
    # runs (seeds 0 and 1). Here scaling reaches 0.89 on validation, a tenth of the rate 0.93: both within noise.
    run = ml.run(None, {"data.scale": "none", "train.optimizer": "sgd", "train.learning_rate": 0.1,
                        "train.epochs": 5}, store=home, progress=False)
    first = run.findings[0]
    assert (first.kind, first.code, first.suggestion) == ("cause", "unscaled_inputs", "--set data.scale=unit")
    assert first.severity in ("error", "warning") and first.explains
    assert "lr_too_high" in [f.code for f in run.findings if f.kind == "cause"]

    capsys.readouterr()
    assert main(["--home", str(home), "doctor", run.id, "--fix", "--candidates", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    report = doc["repair"]
    assert doc["findings"][0]["code"] == "unscaled_inputs"
    # the rate's cause about as well supported: both fixes together are tried first, then scaling alone
    assert [c["fix"] for c in report["candidates"]] == [
        {"data.scale": "unit", "train.optimizer": "adam", "train.learning_rate": 0.001}, {"data.scale": "unit"}]
    best = report["best"]   # the answer: the best on validation among those that ended ok or stopped (see below)
    assert best is not None and best["improved"] and best["status"] in ("ok", "stopped")
    assert report["measure"] == "val_accuracy" and report["rows"] == run.run["summary"]["data"]["n_val"]
    assert best["val_accuracy"] > report["val_accuracy"] + 0.5 and best["test_accuracy"] > 0.85

    store = Store(home)
    repaired = store.get_run(best["run_id"])
    assert repaired["name"] == f"repair of {run.id}: {best['text']}"
    assert repaired["summary"]["repair_of"] == {"run": run.id, "fix": best["fix"], "cause": best["cause"]}
    assert repaired["spec"]["seed"] == run.spec["seed"] and repaired["spec"]["train"]["epochs"] == 5
    assert repaired["summary"]["result"]["val_accuracy"] == pytest.approx(best["val_accuracy"])
    tried = store.get_run(report["candidates"][1]["run_id"])
    assert tried["name"] == f"repair of {run.id}: --set data.scale=unit"
    assert tried["spec"]["data"]["scale"] == "unit"
    stored = json.loads((store.artifact_dir(run.id) / "repair.json").read_text())
    assert stored["best"]["run_id"] == best["run_id"]


@pytest.mark.slow
def test_repair_answers_with_the_best_validation_accuracy_not_the_warning_free_candidate(home, capsys):
    """The issue's case: raw digits with SGD at lr 10 diverges. Among the candidates that end ok or stopped, the
    answer is within noise of the best validation accuracy (and a simpler one only when within noise), better than
    the original beyond noise; a warning it leaves is reported, not held against it. (The doctor's candidate
    fixes are its own business: which ones are tried is not asserted.)"""
    from mlplab.stored.repair_report import helped, load_report, noise
    run = ml.run(None, {"data.scale": "none", "train.optimizer": "sgd", "train.learning_rate": 10},
                 store=home, progress=False)
    assert run.status == "diverged"
    report = run.repair()
    rows = sum(run.run["summary"]["data"]["class_counts"]["val"])
    assert (report.measure, report.rows) == ("val_accuracy", rows)
    assert report.val_accuracy == pytest.approx(run.val_accuracy)
    store = Store(home)
    for c in report.candidates:   # each candidate's validation accuracy is its stored result's
        assert c.val_accuracy == pytest.approx(store.get_run(c.run_id)["summary"]["result"]["val_accuracy"])
    ended = [c for c in report.candidates if c.status in ("ok", "stopped")]
    best = report.best
    assert ended and best in ended
    top = max(c.val_accuracy for c in ended)
    assert top - best.val_accuracy <= noise(top, best.val_accuracy, rows)
    assert best.val_accuracy - report.val_accuracy > noise(best.val_accuracy, report.val_accuracy, rows)
    beaten = [c for c in ended if c.val_accuracy > best.val_accuracy]
    assert all(len(c.fix) > len(best.fix) for c in beaten)   # passed over only for a simpler one within noise
    assert all(not helped(c, report.val_accuracy, rows) for c in report.candidates if c.status not in ("ok", "stopped"))
    verdict = report.verdict()
    assert verdict.startswith(f"the answer: {best.text}: validation accuracy {report.val_accuracy:.4f} -> "
                              f"{best.val_accuracy:.4f}")
    assert (f"leaves: {', '.join(best.problems)}" if best.problems else "no error or warning left") in verdict
    assert load_report(store, run.id).best.run_id == best.run_id   # as the run page and mlplab doctor read it

    capsys.readouterr()   # mlplab doctor RUN shows the latest repair's answer first
    assert main(["--home", str(home), "doctor", run.id]) == 0
    first = capsys.readouterr().out.strip().splitlines()[0]
    assert first.startswith(f"latest repair: the answer: {best.text}:")


@pytest.mark.slow
def test_a_healthy_run_has_nothing_to_repair_and_trains_nothing(home, capsys):
    run = ml.run(None, {}, store=home, progress=False)   # the default experiment: healthy
    before = len(Store(home).list_runs())
    report = run.repair()
    assert report.candidates == [] and report.best is None and "nothing to repair" in str(report)
    assert len(Store(home).list_runs()) == before
    capsys.readouterr()
    assert main(["--home", str(home), "doctor", run.id, "--fix"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == \
        [f"run {run.id}: nothing to repair: the doctor finds no error or warning"]
    assert len(Store(home).list_runs()) == before


@pytest.mark.slow
@pytest.mark.parametrize("status", ["lost", "failed", "interrupted"])
def test_a_run_that_did_not_finish_is_not_offered_a_repair(home, capsys, status):
    from mlplab.stored.repair_report import declined
    store = Store(home)
    run_id = store.create_run(name=f"a {status} run", spec=ml.load_run("last", store=home).spec, dataset="digits")
    store.log_epoch(run_id, 1, {"loss": 14.0, "accuracy": 0.1}, 0.1)
    store.set_status(run_id, status)
    run = store.get_run(run_id)
    reason = declined(run, [])
    assert "run it again" in reason and "\n" not in reason
    capsys.readouterr()
    assert main(["--home", str(home), "doctor", run_id]) == 0
    out = capsys.readouterr().out
    assert "--fix trains" not in out
    before = len(store.list_runs())
    assert main(["--home", str(home), "doctor", run_id, "--fix"]) == 0
    assert "run it again" in capsys.readouterr().out and len(store.list_runs()) == before


@pytest.mark.slow
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


@pytest.mark.slow
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


# ---------------------------------------------------------------- the answer: choose (no training)

def cand(fix, val, status="ok", problems=(), error=None):
    from mlplab.stored.repair_report import Candidate
    return Candidate(dict(fix), " ".join(f"--set {k}={v}" for k, v in fix.items()), "cause", status=status,
                     val_accuracy=val, test_accuracy=val, problems=list(problems), error=error)


def test_noise_is_two_standard_errors_of_the_difference_and_at_least_one_point():
    from mlplab.stored.repair_report import noise
    assert noise(0.9, 0.8, 143) == pytest.approx(2 * ((0.9 * 0.1 + 0.8 * 0.2) / 143) ** 0.5)   # 0.0836
    assert noise(0.99, 0.99, 10000) == 0.01 and noise(0.5, 0.6, None) == 0.01
    assert noise(0.5, 0.5, 100) == pytest.approx(0.1414, abs=1e-4)


def test_the_best_validation_accuracy_wins_over_a_warning_free_but_worse_candidate():
    """The issue's case (raw digits, SGD at lr 10, diverged at 0.112): scale + lr 0.01 ends warning-free at 0.906,
    lr 0.01 alone at 0.953 with the unscaled-inputs warning left; scale alone diverges. The answer is lr 0.01
    alone, and the verdict says what it leaves."""
    from mlplab.stored.repair_report import RepairReport, choose
    scale = cand({"data.scale": "unit"}, 0.098, status="diverged", problems=["lr_too_high", "diverged"])
    both = cand({"data.scale": "unit", "train.learning_rate": 0.01}, 0.906)
    lr = cand({"train.learning_rate": 0.01}, 0.953, status="stopped", problems=["unscaled_inputs"])
    assert choose(0.112, [scale, both, lr], 143) is lr
    report = RepairReport("r", "diverged", 0.103, ["unscaled_inputs", "lr_too_high", "diverged"], [scale, both, lr],
                          val_accuracy=0.112, measure="val_accuracy", rows=143)
    assert report.best is lr
    assert report.verdict().startswith("the answer: --set train.learning_rate=0.01: validation accuracy 0.1120 -> "
                                       "0.9530 (test 0.1030 -> 0.9530); leaves: unscaled_inputs")
    # ranked by validation accuracy, not test: a candidate better on test only is not the answer
    lr.test_accuracy = 0.80
    assert report.best is lr


def test_a_simpler_candidate_within_noise_of_the_best_wins():
    from mlplab.stored.repair_report import RepairReport, choose, noise
    two = cand({"data.scale": "unit", "model.init": "he_normal"}, 0.95)
    one = cand({"data.scale": "unit"}, 0.93)
    assert 0.95 - 0.93 <= noise(0.95, 0.93, 360)
    assert choose(0.40, [two, one], 360) is one
    report = RepairReport("r", "ok", 0.4, ["unscaled_inputs"], [two, one], val_accuracy=0.4,
                          measure="val_accuracy", rows=360)
    assert "simpler than --set data.scale=unit --set model.init=he_normal (0.9500), which is within noise" \
        in report.verdict()
    # beyond noise, the better one wins however many keys it changes; of equally simple ones, the better
    assert choose(0.40, [two, cand({"data.scale": "unit"}, 0.85)], 360) is two
    better = cand({"train.learning_rate": 0.01}, 0.94)
    assert choose(0.40, [two, one, better], 360) is better


def test_diverged_failed_and_untrained_candidates_are_never_the_answer():
    from mlplab.stored.repair_report import choose
    diverged = cand({"train.learning_rate": 1.0}, 0.97, status="diverged")   # a diverged run's result: an early epoch
    failed = cand({"model.hidden": [8]}, 0.99, status="failed")
    broken = cand({"model.batchnorm": True}, float("nan"), error="bad spec")
    interrupted = cand({"train.epochs": 60}, 0.98, status="interrupted")
    ok = cand({"data.scale": "unit"}, 0.90)
    assert choose(0.10, [diverged, failed, broken, interrupted, ok], 360) is ok
    assert choose(0.10, [diverged, failed, broken, interrupted], 360) is None


def test_nothing_better_than_the_original_beyond_noise_is_no_answer():
    from mlplab.stored.repair_report import RepairReport, choose
    same = cand({"data.scale": "unit"}, 0.905)
    worse = cand({"train.learning_rate": 0.01}, 0.85)
    assert choose(0.90, [same, worse], 360) is None
    assert choose(0.90, [same, worse], 100000) is None   # a gain under one point is noise on any number of rows
    assert choose(0.90, [cand({"data.scale": "unit"}, 0.95)], 360) is not None
    report = RepairReport("r", "ok", 0.9, ["lr_too_high"], [same, worse], val_accuracy=0.9,
                          measure="val_accuracy", rows=360)
    assert report.best is None and not same.improved
    assert report.verdict().startswith("no candidate helped: none beat the original's validation accuracy 0.9000 "
                                       "by more than noise (2 standard errors on 360 rows, at least 1 point)")


def test_without_a_validation_split_candidates_are_compared_on_test_accuracy_and_the_verdict_says_so():
    from mlplab.stored.repair_report import RepairReport
    a = cand({"data.scale": "unit"}, float("nan"))
    a.test_accuracy = 0.95
    report = RepairReport("r", "ok", 0.5, ["unscaled_inputs"], [a], measure="test_accuracy", rows=360)
    assert report.best is a
    assert report.verdict().startswith("the answer: --set data.scale=unit: test accuracy 0.5000 -> 0.9500 "
                                       "(the run has no validation split)")


def test_an_original_without_an_accuracy_is_compared_with_chance():
    from mlplab.stored.repair_report import RepairReport
    chance = cand({"data.scale": "unit"}, 0.11)
    report = RepairReport("r", "diverged", float("nan"), ["diverged"], [chance], measure="val_accuracy", rows=143,
                          chance=0.1)
    assert report.best is None
    chance.val_accuracy = 0.5
    assert report.best is chance

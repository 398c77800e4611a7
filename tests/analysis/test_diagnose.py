"""The doctor on real runs built to show each problem, and silence on healthy ones."""
import json

import pytest

from mlplab.analysis.doctor import Finding, diagnose
from mlplab.stored import load_findings
from mlplab.training.runner import run_experiment
from mlplab.spec import load_spec
from mlplab.analysis.status import chance_level, divergence
from mlplab.store.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("doctor"))


def doctor(store, *overrides):
    result = run_experiment(load_spec(None, list(overrides)), store)
    findings = load_findings(store, result.run_id)
    return result, findings, {f.code: f for f in findings}


def problems(findings):
    return [f.code for f in findings if f.severity != "info"]


@pytest.mark.slow
def test_healthy_run_gets_no_alarm(store):
    result, findings, _ = doctor(store)  # the default spec: digits, 64-64 relu, adam
    assert result.status == "ok"
    assert problems(findings) == []


@pytest.mark.slow
def test_zero_init_is_stuck_by_symmetry(store):
    _, findings, by = doctor(store, 'model.init="zeros"', "train.epochs=6")
    stuck = by["stuck"]
    assert stuck.severity == "error" and findings[0].code == "constant_init"   # the cause before its symptom
    assert findings[0].kind == "cause" and "stuck" in findings[0].explains and stuck.explained_by[0] == "constant_init"
    assert stuck.evidence["train_accuracy"] < 0.2
    assert "all equal" in stuck.causes[0]           # symmetry ranked first
    assert stuck.suggestion.startswith("--set model.init=")


@pytest.mark.slow
def test_learning_rate_far_too_small_is_stuck(store):
    _, _, by = doctor(store, 'train.optimizer={ name = "sgd", learning_rate = 1e-6 }', "train.epochs=5")
    assert "below the usual range for sgd" in by["stuck"].causes[0] and by["stuck"].explained_by[0] == "lr_too_low"
    assert by["stuck"].evidence["median_update_ratio"] < 1e-4
    # SGD far below its rate: Adam at its default first (the oracle benchmark), then SGD's default rate
    assert by["stuck"].suggestion == ("--set train.optimizer=adam --set train.learning_rate=0.001 "
                                      "(or --set train.learning_rate=0.01; or --set train.learning_rate=0.1)")


@pytest.mark.slow
def test_huge_init_diverges_to_nan(store):
    result, findings, by = doctor(store, 'model.init={ name = "random_normal", stddev = 1e20 }', "train.epochs=5")
    assert result.status == "diverged"
    d = by["diverged"]
    assert d.epoch == 1 and d.severity == "error"
    assert "initial weights are far too large" in d.causes[0]
    assert d.evidence["init_scale"] == 1e20
    assert problems(findings) == ["init_too_large", "diverged"]   # its cause, and nothing else on garbage numbers


@pytest.mark.slow
def test_learning_rate_too_high_plateaus_at_the_clip_value(store):
    # no NaN: crossentropy clips probabilities, the loss jumps to ~14.5 with accuracy at chance
    result, _, by = doctor(store, "train.learning_rate=1.0", "train.epochs=6")
    assert result.status == "diverged"                       # the run's status and the doctor: one rule
    d = by["diverged"]
    counts = store.get_run(result.run_id)["summary"]["data"]["class_counts"]["train"]
    assert d.epoch == divergence(result.history, 10, chance_level(counts, 10))[0] == result.epochs_run
    assert "Most likely cause: the learning rate (1) is too high" in d.explanation
    assert d.evidence["last_train_loss"] > 10
    assert "learning rate (1) is too high for adam" in d.causes[0]
    # a tenth (0.1) is still far above Adam's usual range: its default first, then the tenth
    assert d.suggestion == "--set train.learning_rate=0.001 (or --set train.learning_rate=0.1)"


@pytest.mark.slow
def test_overfitting_names_the_epoch(store):
    result, _, by = doctor(store, "model.hidden=[512, 512]", "data.validation_split=0.9", "train.epochs=40",
                           "train.early_stopping=false")
    f = by["overfitting"]
    val = result.history["val_loss"]
    best = val.index(min(val))
    assert f.epoch == best + 1 and f.evidence["val_loss_rise"] >= 0.1
    assert f.explained_by == ["small_training_split"]          # a 0.9 validation split leaves 143 training rows
    assert f.suggestion.startswith("--set data.validation_split=0.1")
    # its validation accuracy ended above the loss's best epoch's: stopping there would lose accuracy
    acc = result.history["val_accuracy"]
    assert acc[-1] > acc[best] and f.evidence["val_loss_best_epoch"] == best + 1
    assert {"train.epochs": f.epoch} not in f.fixes and {"train.early_stopping": True} not in f.fixes


@pytest.mark.slow
def test_deep_sigmoid_net_has_vanishing_gradients(store):
    _, _, by = doctor(store, "model.hidden=[32, 32, 32, 32, 32, 32, 32, 32, 32, 32]", 'model.activation="sigmoid"',
                      'train.optimizer="sgd"', "train.epochs=5")
    v = by["vanishing_gradients"]
    assert v.evidence["grad_ratio_first_to_last"] < 1e-3
    assert v.evidence["layers"] == 11
    assert "stuck" in by and "gradient fades" in by["stuck"].causes[0]


@pytest.mark.slow
def test_huge_sgd_steps_kill_relus(store):
    _, _, by = doctor(store, 'train.optimizer={ name = "sgd", learning_rate = 3.0 }', "train.epochs=5")
    dead = by["dead_units"]
    assert dead.evidence["dead_fraction"] >= 0.9 and dead.evidence["dead_fraction_at_init"] < 0.1
    assert "died during training" in dead.explanation
    assert by["unstable"].evidence["max_update_ratio"] > 1      # steps far larger than the weights
    assert "too high" in by["stuck"].causes[0]


@pytest.mark.slow
def test_unscaled_inputs_saturate_sigmoids(store):
    _, _, by = doctor(store, 'data.scale="none"', 'model.activation="sigmoid"', 'train.optimizer="sgd"',
                      "train.epochs=4")
    assert by["saturated_units"].evidence["saturated_fraction"] >= 0.4
    assert "unscaled_inputs" in by["saturated_units"].explained_by
    assert "scale = 'none'" in by["unscaled_inputs"].explanation and by["unscaled_inputs"].kind == "cause"


@pytest.mark.slow
def test_tiny_model_underfits(store):
    _, _, by = doctor(store, "model.hidden=[2]", "train.epochs=6", "train.early_stopping=false")
    u = by["underfitting"]
    assert u.evidence["train_accuracy"] < 0.85 and u.evidence["narrowest_hidden_layer"] == 2


@pytest.mark.slow
def test_dropout_explains_running_vs_inference_loss(store):
    _, findings, by = doctor(store, "model.dropout=0.5")
    f = by["running_vs_inference"]
    assert f.severity == "info"
    assert f.evidence["running_loss"] > f.evidence["inference_train_loss"] * 1.1
    assert problems(findings) == []
    json.dumps([x.to_dict() for x in findings])     # --json ready


def test_oscillating_validation_loss_is_unstable():
    run = {"id": "x", "status": "ok", "spec": {"train": {"optimizer": {"name": "adam", "learning_rate": 0.01}}},
           "history": {"loss": [1.0, 0.5, 0.4, 0.3, 0.25, 0.2, 0.2], "train_loss": [0.9, 0.5, 0.4, 0.3, 0.25, 0.2, 0.2],
                       "accuracy": [0.7, 0.9, 0.92, 0.93, 0.94, 0.95, 0.95],
                       "val_loss": [1.0, 0.5, 0.8, 0.45, 0.7, 0.4, 0.42]},
           "summary": {"data": {"class_names": list("0123456789")}}}
    by = {f.code: f for f in diagnose(run, None)}
    assert by["unstable"].epoch == 3 and by["unstable"].suggestion == "--set train.learning_rate=0.003"
    assert isinstance(by["unstable"], Finding)


# ---------------------------------------------------------------- one rule with the run status (pure dicts)

def run_dict(status="ok", loss=(), accuracy=None, stats_epochs=0, lr=0.001, counts=None, **history):
    loss = list(loss)
    accuracy = list(accuracy) if accuracy is not None else [0.9] * len(loss)
    h = {"epoch": list(range(1, len(loss) + 1)), "loss": loss, "accuracy": accuracy,
         "train_loss": loss, "train_accuracy": accuracy, **history}
    names = list("0123456789") if counts is None else [str(i) for i in range(len(counts))]
    return {"id": "r1", "status": status, "history": h, "epochs_run": len(loss),
            "spec": {"train": {"optimizer": {"name": "adam", "learning_rate": lr}, "epochs": 10}},
            "summary": {"data": {"class_names": names,
                                 "class_counts": {"train": counts or [100] * 10}}}}


NAN = float("nan")


def text_of(findings):
    return " | ".join(" ".join([f.title, f.explanation, f.suggestion, *f.causes]) for f in findings)


def test_nan_divergence_explains_its_cause_without_placeholders_or_nan():
    run = run_dict("diverged", loss=[2.0, NAN], accuracy=[0.5, 0.1], lr=0.5)
    stats = {"epoch": [0, 1, 2], "weights": ["dense_1/kernel", "output/kernel"],
             "weight_norm": [[1.0, 1.0], [3.0, 3.0], [None, None]],
             "grad_norm": [[0.1, 0.1], [5.0, 5.0], [None, None]],
             "update_ratio": [[None, None], [None, None], [None, None]]}   # the epochs that blew up: no ratio
    findings = diagnose(run, stats)
    assert [(f.kind, f.code) for f in findings] == [("cause", "lr_too_high"), ("symptom", "diverged")]
    d = findings[1]
    assert (d.code, d.severity, d.epoch) == ("diverged", "error", 2)
    assert d.title == "Training diverged at epoch 2: the loss became NaN/infinite"
    assert "Most likely cause: the learning rate (0.5) is too high for adam" in d.explanation
    text = text_of(findings)
    assert "{" not in text and "nan" not in text and "None" not in text
    assert all(v == v and v is not None for f in findings for v in f.evidence.values())   # no NaN evidence
    assert "last_train_loss" not in d.evidence and d.evidence["min_train_loss"] == 2.0


def test_stored_diverged_status_always_gets_the_finding():
    # the engine saw NaN weights while the recorded losses were still finite
    run = run_dict("diverged", loss=[1.0, 0.8, 0.7])
    d = {f.code: f for f in diagnose(run)}["diverged"]
    assert d.epoch == 3 and "NaN/infinite" in d.title


def test_a_recovered_loss_spike_is_unstable_not_diverged():
    loss = [1.0, 0.3, 0.2, 3.5, 0.4, 0.25]           # 17x the lowest loss, then back down
    run = run_dict("ok", loss=loss, accuracy=[0.7, 0.9, 0.93, 0.5, 0.88, 0.92])
    assert divergence(run["history"], 10, 0.1) is None
    by = {f.code: f for f in diagnose(run)}
    assert "diverged" not in by
    u = by["unstable"]
    assert (u.severity, u.epoch) == ("info", 4)   # it ended at 92 %: a note (doctor.graded)
    assert u.evidence["spike_loss"] == 3.5 and u.evidence["lowest_loss_before"] == 0.2
    assert "found its way back down (to 0.25)" in u.explanation


@pytest.mark.parametrize("loss, accuracy, status", [
    ([2.3, 14.5, 14.6], [0.1, 0.1, 0.1], "diverged"),     # plateau at the clip value with accuracy at chance
    ([2.3, 14.5, 1.0], [0.1, 0.1, 0.7], "ok"),            # one bad epoch, then it learns: the rule says no
    ([2.3, 2.3, 2.3, 2.3], [0.1, 0.1, 0.1, 0.1], "ok"),   # stuck at a uniform guess: not diverged
])
def test_the_doctor_calls_diverged_exactly_what_the_status_rule_calls_diverged(loss, accuracy, status):
    run = run_dict(status, loss=loss, accuracy=accuracy)
    rule = divergence(run["history"], 10, 0.1)
    assert (rule is not None) == (status == "diverged")
    by = {f.code: f for f in diagnose(run)}
    assert ("diverged" in by) == (status == "diverged")
    if rule:
        assert by["diverged"].epoch == rule[0] == 3


def test_chance_comes_from_the_training_class_counts():
    # 90 % of the training rows are class 0: 90 % accuracy is chance, the net is stuck
    run = run_dict("ok", loss=[0.4, 0.33, 0.33, 0.33], accuracy=[0.9, 0.9, 0.9, 0.9], counts=[900, 100])
    s = {f.code: f for f in diagnose(run)}["stuck"]
    assert s.evidence["chance"] == chance_level([900, 100], 2) == 0.9
    assert "(chance is 90%)" in s.title


def test_lost_and_interrupted_runs_are_not_called_healthy():
    lost = diagnose(run_dict("lost", loss=[1.0, 0.5], accuracy=[0.7, 0.85]))
    assert [(f.code, f.severity) for f in lost] == [("lost", "error")]
    assert lost[0].evidence == {"epochs_run": 2, "epochs_planned": 10}
    assert "process" in lost[0].title and "partial" in lost[0].explanation
    interrupted = diagnose(run_dict("interrupted", loss=[1.0, 0.5, 0.3], accuracy=[0.7, 0.85, 0.9]))
    assert [(f.code, f.severity) for f in interrupted] == [("interrupted", "warning")]
    assert interrupted[0].title == "Interrupted after 3 of 10 epochs"


def test_running_vs_inference_with_losses_only_does_not_crash():
    run = {"status": "ok", "spec": {"model": {"dropout": 0.5}},
           "history": {"loss": [1.0, 0.9], "train_loss": [0.5, 0.4]}}
    [f] = [f for f in diagnose(run) if f.code == "running_vs_inference"]
    assert f.evidence == {"running_loss": 0.9, "inference_train_loss": 0.4}


# ---------------------------------------------------------------- the course runs, end to end

@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ['{ name = "sgd", learning_rate = 0.1 }', '{ name = "adam", learning_rate = 0.001 }'])
def test_the_seed_notebooks_initialization_baseline_is_healthy(store, optimizer):
    # raw 0..16 pixels, 64-64 tanh, truncated normal 0.01, 15 epochs, batch 32: ~99 % train, 0.956 / 0.967 test
    result, findings, _ = doctor(store, "data.scale=none", "model.activation=tanh", f"train.optimizer={optimizer}",
                                 'model.init={ name = "truncated_normal", stddev = 0.01 }', "train.epochs=15",
                                 "train.early_stopping=false")
    assert result.status == "ok" and result.test_accuracy > 0.94
    assert problems(findings) == []     # what the statistics show on the way is a note on a good result


@pytest.mark.slow
def test_a_run_that_learned_nothing_is_never_healthy(store):
    # full-batch steps, 2 epochs: 2 optimizer steps, 0.13 test accuracy on 10 classes, status ok
    result, findings, by = doctor(store, "model.hidden=[8]", "train.batch_size=1294", "train.epochs=2",
                                  "train.learning_rate=0.01")
    assert result.status == "ok" and result.test_accuracy < 0.3
    assert by["stuck"].severity == "error" and findings[0].code == "too_few_steps"
    assert findings[0].fixes[0] == {"train.batch_size": 32}
    from mlplab.analysis.health import health
    assert health(findings)["health"] == "error" == store.get_run(result.run_id)["health"]

"""The doctor on injected faults: does it name the cause, first, stay quiet on healthy runs, and
does verified repair (`mlplab doctor --fix`) find a fix that works?

Faulty and healthy digits runs (8x8 digits: every run takes seconds), drawn from the fault
taxonomies of AUTOTRAINER (learning rate, oscillation, vanishing/exploding gradients, dying ReLU,
saturation), DeepDiagnosis (numerical errors, dead/saturated nodes, unchanged weights), UMLAUT
(unnormalized inputs, overfitting, loss/softmax mismatch) and NeuraLint (initialization,
activation misuse, regularization), plus the data faults (label noise, random labels, ordered
rows, inputs scaled twice). Each case names the cause codes that count as "the cause".

Printed, per case and in total:
    named        the injected cause is among the findings
    first        it is the first finding
    false alarm  a healthy run gets an error or warning
    improved     the repair has an answer (report.best): a candidate that ended ok or stopped and beat the
                 original's validation accuracy beyond noise (2 standard errors, at least 1 point)
    resolved     the answer also left no error or warning
    harmful      the repair's answer had a lower test accuracy than the original: must be 0
    top fix      the first candidate alone (what the doctor's top suggestion does when applied)
    repair time  candidates' training time / the original run's wall time, as a user of the CLI sees them:
                 `mlplab run` then `mlplab doctor RUN --fix`, each a new process, with mlplab's persistent
                 compilation cache on (the default) and holding only this run's programs (a fresh cache
                 per case; in-memory compilations are dropped before each). --cold: no cache at all

    MLPLAB_DATA=../shared/datasets python bench/doctor.py [--only NAME,...] [--no-repair] [--candidates 3] [--cold]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Not the user's own compilation cache: each case gets a fresh one (see `fresh_process`).
os.environ["MLPLAB_JAX_CACHE"] = "0"

import numpy as np  # noqa: E402

from mlplab.engine.backend import use_compilation_cache  # noqa: E402
import jax  # noqa: E402
from mlplab.data import load_raw  # noqa: E402
from mlplab.spec import load_spec  # noqa: E402
from mlplab.store import Store  # noqa: E402
from mlplab.stored import load_findings  # noqa: E402
from mlplab.training.repair import repair  # noqa: E402
from mlplab.training.runner import run_experiment  # noqa: E402

BASE: list[str] = []   # the default experiment: digits, 64-64 ReLU, Adam 0.001, batch 32, 20 epochs, early stopping


@dataclass
class Case:
    name: str
    family: str
    overrides: list[str]
    expected: tuple[str, ...] = ()     # cause codes that count as naming the fault; () = healthy
    data: str | None = None            # a derived data file (see `data_files`)
    result: dict = field(default_factory=dict)


def faulty() -> list[Case]:
    F = Case
    return [
        F("lr-high-adam", "learning rate", ["train.learning_rate=0.1"], ("lr_too_high",)),
        F("lr-high-rmsprop", "learning rate", ["train.optimizer=rmsprop", "train.learning_rate=0.1"], ("lr_too_high",)),
        F("lr-high-sgd", "learning rate", ["train.optimizer=sgd", "train.learning_rate=3.0"], ("lr_too_high",)),
        F("lr-low-adam", "learning rate", ["train.learning_rate=1e-6"], ("lr_too_low",)),
        F("lr-low-sgd", "learning rate", ["train.optimizer=sgd", "train.learning_rate=5e-4"], ("lr_too_low",)),
        F("lr-low-rmsprop", "learning rate", ["train.optimizer=rmsprop", "train.learning_rate=1e-6"], ("lr_too_low",)),
        F("oscillation", "oscillation", ["train.optimizer=sgd", "train.learning_rate=0.8"], ("lr_too_high",)),
        F("vanishing-sigmoid", "vanishing gradients", ["model.hidden=[32,32,32,32,32,32,32,32]",
                                                         "model.activation=sigmoid", "train.optimizer=sgd"],
          ("saturating_activation",)),
        F("vanishing-tanh-small-init", "vanishing gradients", ["model.hidden=[32,32,32,32,32,32]", "model.activation=tanh",
                                                                'model.init={ name = "random_normal", stddev = 0.01 }'],
          ("init_too_small", "saturating_activation")),
        F("exploding-deep-relu", "exploding gradients", ["model.hidden=[64,64,64,64,64,64,64,64,64,64]",
                                                         'model.init={ name = "random_normal", stddev = 0.4 }'],
          ("init_too_large",)),
        F("exploding-init", "exploding gradients", ['model.init={ name = "random_normal", stddev = 10.0 }'],
          ("init_too_large",)),
        F("dying-relu-lr", "dying ReLU", ["train.optimizer=sgd", "train.learning_rate=1.5"], ("lr_too_high",)),
        F("dying-relu-shifted-init", "dying ReLU", ['model.init={ name = "random_normal", mean = -0.3, stddev = 0.05 }'],
          ("init_shifted",)),
        F("saturation-unscaled", "saturation", ["model.activation=sigmoid", "data.scale=none", "train.optimizer=sgd"],
          ("unscaled_inputs",)),
        F("saturation-big-init", "saturation", ["model.activation=tanh",
                                                 'model.init={ name = "random_normal", stddev = 2.0 }'],
          ("init_too_large",)),
        F("init-zeros", "constant init", ['model.init="zeros"'], ("constant_init",)),
        F("init-ones", "constant init", ['model.init="ones"'], ("constant_init",)),
        F("init-equal-bounds", "constant init", ['model.init={ name = "random_uniform", minval = 0.1, maxval = 0.1 }'],
          ("constant_init",)),
        F("init-tiny", "init", ["model.hidden=[64,64,64]", 'model.init={ name = "random_normal", stddev = 1e-4 }'],
          ("init_too_small",)),
        F("unscaled-relu", "unscaled inputs", ["data.scale=none", "train.optimizer=sgd", "train.learning_rate=0.1"],
          ("unscaled_inputs",)),
        F("unscaled-adam", "unscaled inputs", ["data.scale=none", "train.learning_rate=0.01"], ("unscaled_inputs",)),
        F("scaled-twice", "unscaled inputs", ["data.scale=none"], ("inputs_scaled_twice",), data="twice"),
        F("overfit-small-split", "overfitting", ["model.hidden=[512,512]", "data.validation_split=0.9",
                                                 "train.epochs=40", "train.early_stopping=false"],
          ("overfitting", "small_training_split")),
        F("underfit-bottleneck", "underfitting", ["model.hidden=[2]", "train.early_stopping=false"], ("model_too_small",)),
        F("underfit-few-epochs", "underfitting", ["train.optimizer=sgd", "train.epochs=3"], ("too_few_epochs",)),
        F("dropout-0.9", "too much dropout", ["model.dropout=0.9"], ("dropout_too_high",)),
        F("l2-1.0", "too much L2", ["model.l2=1.0"], ("regularization_too_strong",)),
        F("l1-0.1", "too much L2", ["model.l1=0.1"], ("regularization_too_strong",)),
        F("loss-mse", "wrong loss", ["train.loss=mse", "train.optimizer=sgd"], ("wrong_loss",)),
        F("softmax-hidden", "activation misuse", ["model.activation=softmax"], ("hidden_activation",)),
        F("linear-hidden", "activation misuse", ["model.activation=linear", "train.optimizer=sgd", "train.epochs=5"],
          ("hidden_activation",)),
        F("batch-1", "batch-size noise", ["train.batch_size=1", "train.optimizer=sgd", "train.learning_rate=0.1",
                                          "train.epochs=4"], ("batch_too_small",)),
        F("batch-2-adam", "batch-size noise", ["train.batch_size=2", "train.learning_rate=0.01", "train.epochs=4"],
          ("batch_too_small",)),
        F("label-noise-40", "label noise", [], ("noisy_labels",), data="noisy"),
        F("random-labels", "label noise", ["train.early_stopping=false", "model.hidden=[256,256]", "train.epochs=30"],
          ("labels_unrelated",), data="random"),
        F("ordered-unshuffled", "ordered data", ["train.shuffle=false", "data.validation_split=0.05"],
          ("ordered_data",), data="ordered"),
        F("ordered-split", "ordered data", ["data.validation_split=0.05"], ("ordered_data",), data="ordered"),
    ]


def healthy() -> list[Case]:
    H = Case
    return [
        H("default", "healthy", []),
        H("sgd-momentum", "healthy", ['train.optimizer={ name = "sgd", momentum = 0.9 }']),
        H("sgd-0.1", "healthy", ["train.optimizer=sgd", "train.learning_rate=0.1"]),
        H("rmsprop", "healthy", ["train.optimizer=rmsprop"]),
        H("adagrad", "healthy", ["train.optimizer=adagrad", "train.learning_rate=0.05"]),
        H("tanh", "healthy", ["model.activation=tanh"]),
        H("sigmoid", "healthy", ["model.activation=sigmoid", "train.learning_rate=0.005"]),
        H("elu", "healthy", ["model.activation=elu"]),
        H("dropout-0.3", "healthy", ["model.dropout=0.3"]),
        H("batchnorm", "healthy", ["model.batchnorm=true"]),
        H("l2-1e-4", "healthy", ["model.l2=0.0001"]),
        H("he-128-64", "healthy", ["model.hidden=[128,64]", "model.init=he_normal"]),
        H("standard-scale", "healthy", ["data.scale=standard"]),
        H("batch-128", "healthy", ["train.batch_size=128", "train.learning_rate=0.003", "train.epochs=15"]),
        H("logistic", "healthy", ["model.hidden=[]", "train.learning_rate=0.01"]),
    ]


def data_files(folder: Path) -> dict[str, str]:
    """Digits with one fault each, as .npz files (train labels/rows changed, test rows clean)."""
    raw = load_raw("digits")
    x, y = raw.x_train.astype("float32"), raw.y_train.astype("int64")
    rng = np.random.default_rng(0)
    variants = {"twice": (x / (16 * 255), y)}
    noisy = y.copy()
    flip = rng.random(len(y)) < 0.4
    noisy[flip] = rng.integers(0, 10, flip.sum())
    variants["noisy"] = (x, noisy)
    variants["random"] = (x, rng.permutation(y))
    order = np.argsort(y, kind="stable")
    variants["ordered"] = (x[order], y[order])
    paths = {}
    for name, (xs, ys) in variants.items():
        path = folder / f"digits-{name}.npz"
        x_test = raw.x_test.astype("float32") / (16 * 255) if name == "twice" else raw.x_test.astype("float32")
        np.savez(path, x_train=xs, y_train=ys, x_test=x_test, y_test=raw.y_test.astype("int64"))
        paths[name] = str(path)
    return paths


def fresh_process(cache: str | None = None) -> None:
    """As if a new `mlplab` process started: nothing compiled in memory; `cache`: a new persistent
    compilation cache there (None: keep the current one)."""
    jax.clear_caches()
    if cache is not None:
        use_compilation_cache(cache or None)


def run_case(case: Case, store: Store, files: dict[str, str], args) -> None:
    overrides = BASE + case.overrides + ([f'data.dataset="{files[case.data]}"'] if case.data else [])
    exp = load_spec(None, overrides)
    fresh_process("" if args.cold else tempfile.mkdtemp(prefix="mlplab-bench-jax-", dir=args.tmp))
    started = time.perf_counter()
    result = run_experiment(exp, store)
    wall = time.perf_counter() - started
    findings = load_findings(store, result.run_id)
    codes = [f.code for f in findings]
    res = case.result
    res.update(run=result.run_id, status=result.status, test=float(result.test_accuracy), wall=wall, codes=codes,
               problems=[f.code for f in findings if f.problem])
    if case.expected:
        res["named"] = any(c in case.expected for c in codes)
        res["first"] = bool(codes) and codes[0] in case.expected
    else:
        res["false_alarm"] = bool(res["problems"])
    if case.expected and res["problems"] and not args.no_repair:
        fresh_process()
        report = repair(store, result.run_id, candidates=args.candidates)
        res["offered"], res["note"] = bool(report.candidates), report.note
        res["repair_seconds"] = report.seconds
        res["resolved"] = report.best is not None and report.best.resolved
        res["improved"] = any(c.improved or c.resolved for c in report.candidates)
        res["harmful"] = report.best is not None and report.best.test_accuracy < res["test"]
        res["best"] = report.best.text if report.best else "-"
        res["best_test"] = report.best.test_accuracy if report.best else float("nan")
        top = report.candidates[0] if report.candidates else None
        res["top"] = top and {"text": top.text, "test": top.test_accuracy, "resolved": top.resolved}


def line(case: Case) -> str:
    r = case.result
    mark = (("first" if r.get("first") else "named" if r.get("named") else "MISSED") if case.expected
            else ("FALSE ALARM" if r.get("false_alarm") else "quiet"))
    rep = ""
    if "resolved" in r and not r["offered"]:
        rep = f" | repair: not offered ({r['note'].split(':')[0]})"
    elif "resolved" in r:
        rep = (f" | repair: {'resolved' if r['resolved'] else 'improved' if r['improved'] else 'not fixed'}"
               f" {r['best']} ({r['best_test']:.3f}), {r['repair_seconds'] / r['wall']:.1f}x")
    first = r["codes"][0] if r["codes"] else "-"
    return (f"{case.name:26s} {r['status']:8s} test {r['test']:.3f}  {mark:11s} first: {first}"
            f"{'' if not case.expected else ' (want ' + '/'.join(case.expected) + ')'}{rep}")


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f} %)" if d else "0/0"


def summary(bad: list[Case], good: list[Case]) -> list[str]:
    R = [c.result for c in bad]
    offered = [r for r in R if r.get("offered")]
    ratios = [r["repair_seconds"] / r["wall"] for r in offered if r.get("wall")]
    tops = [r["top"] for r in offered if r.get("top")]
    top_better = sum(1 for r in offered if r.get("top") and r["top"]["test"] > r["test"] + 0.005)
    top_worse = sum(1 for r in offered if r.get("top") and r["top"]["test"] < r["test"] - 0.005)
    return [
        f"faulty runs: {len(bad)}, healthy runs: {len(good)}",
        f"cause named anywhere: {pct(sum(r.get('named', False) for r in R), len(R))}",
        f"cause named first:    {pct(sum(r.get('first', False) for r in R), len(R))}",
        f"false alarms:         {pct(sum(c.result.get('false_alarm', False) for c in good), len(good))}",
        f"repair offered:       {pct(len(offered), len(R))} (runs with an error or warning and a fix to try)",
        f"fix improved:         {pct(sum(r['improved'] for r in offered), len(offered))}",
        f"fix resolved:         {pct(sum(r['resolved'] for r in offered), len(offered))}",
        f"harmful answer:       {sum(r['harmful'] for r in offered)}",
        f"top fix alone:        better in {top_better}, worse in {top_worse}, resolved in "
        f"{sum(t['resolved'] for t in tops)} of {len(tops)}",
        "repair time / run:    " + (f"median {np.median(ratios):.2f}x, max {max(ratios):.2f}x" if ratios else "-"),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated case names")
    p.add_argument("--no-repair", action="store_true")
    p.add_argument("--candidates", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="no persistent compilation cache: every program compiles")
    args = p.parse_args()
    bad, good = faulty(), healthy()
    if args.only:
        keep = set(args.only.split(","))
        bad, good = [c for c in bad if c.name in keep], [c for c in good if c.name in keep]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = tmp
        store, files = Store(Path(tmp) / "store"), data_files(Path(tmp))
        run_case(Case("warm-up", "healthy", ["train.epochs=1"]), store, files, args)   # imports and first compile
        for case in bad + good:
            run_case(case, store, files, args)
            print(line(case), flush=True)
    print()
    for text in summary(bad, good):
        print(text)
    print(f"bench time: {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()

"""The doctor measured against what training itself shows: each sampled run is trained together with
its single-change neighbours, and the neighbours decide whether the run was healthy and which changes
were the right fixes (as AUTOTRAINER labels a problem by the repair that works).

    MLPLAB_DATA=../shared/datasets python bench/doctor_oracle.py --n 600 --seed 0 [--out DIR] [--workers 2]

Trained runs are kept in a real store under --out (default /tmp/mlplab-oracle-<seed>); a second call with
the same --out and --seed trains only what is missing, so re-scoring a changed doctor costs seconds (plus the
doctor's new first fixes, trained once each). Prints one line per run with --verbose, then

    SUMMARY n=... healthy=... unhealthy=... unclear=... false_alarms=a/b recall=c/d first_fix_right=e/f
            status_wrong=g/n seconds=...

The distribution (`sample`): course-like configurations. Each knob keeps the course's usual value with the
probability given, else is drawn from the wide range:
    data        digits 45 %, cosine2d 25 % (n=3000 for
                enough validation rows to tell two classes apart, noise 0-0.3), MNIST and Fashion-MNIST subsets 15 % each
                (3,000 training and 1,000 test rows drawn with the seed, stored as .npz); digits with its
                training labels permuted (no label matches its input) 5 % of the digits runs
    scale       unit 60 %, none 20 %, standard 20 %
    hidden      [64, 64] 30 %; else 0-10 layers (1-3 most likely) of one width, log-uniform 8..512 (80 %)
                or 2..8 (20 %)
    activation  relu 50 %; else tanh, sigmoid, elu, linear, softmax in the ratio 3:3:2:1:1
    init        glorot_uniform 45 %; he_normal 20 %; random_normal with stddev log-uniform 1e-4..10 25 %;
                zeros 5 %; constant 0.05 5 %
    optimizer   adam 30 %, sgd 25 %, sgd with momentum 0.9 15 %, rmsprop 15 %, adagrad 15 %; its learning
                rate: the Keras default times 1/10, 1/3, 1, 3 or 10 (70 %), else log-uniform 1e-6..10
    batch       32 60 %; else log-uniform 1..the training rows
    epochs      log-uniform 2..100, lowered so that a run takes at most MAX_STEPS steps and MAX_WORK
                operations (a wide deep net on MNIST trains a few epochs: the bench's time stays bounded)
    dropout     0 80 %; else uniform 0..0.9        L2: 0 80 %; else log-uniform 1e-4..1
    loss        sparse crossentropy 90 %, mse 10 %  shuffle: on 95 %
    early stop  off 50 %, Keras-like on val_loss (patience 3, restore best) 50 %
    validation  split 0.1 or 0.2

The neighbourhood (`neighbours`): every single change that differs from the run: learning rate x3, x10,
/3, /10; data.scale=unit; a standard initializer (he_normal for relu, else glorot_uniform); relu;
batch-norm on; dropout 0; L2 0; epochs x3; batch 32; crossentropy; shuffling on; adam at 0.001;
hidden layers at least 64 wide ([64] for none); dropout 0.2 (when it has none) and early stopping on
val_loss (patience 3, restoring the best weights), the usual remedies of overfitting.

The label (`label`), from validation accuracy (test accuracy is only reported). Noise is the standard
error of a difference of two accuracies on the same n validation rows, se = sqrt((p1(1-p1)+p2(1-p2))/n):
    healthy    no neighbour beats the run by more than max(2 se, 1 point), and the run is clearly above
               chance (at least halfway from chance to perfect)
    unhealthy  some neighbour beats it by more than max(3 se, 3 points): its right fixes are the
               neighbours within max(2 se, 1 point) of the best; or it ends near chance (analysis.status's
               at_chance) whatever its neighbours do (when the best neighbour is near chance too, no
               single change is a right fix: a data problem or several faults at once; such runs are
               counted apart, with how often the doctor's first finding points outside the spec)
    unclear    anything else: left out of the scores and counted
Scores, on the doctor's verdict of the original run (`mlplab doctor RUN`, before any repair):
    false alarm      a warning or error on a healthy run
    recall           an unhealthy run gets a warning or error
    first fix right  of the unhealthy runs with right fixes: the first change the doctor suggests (what
                     `--fix` tries first) trains, from the same seed, to within max(2 se, 1 point) of the best
                     neighbour (it is trained when it is not a neighbour)
    status wrong     a run (original or neighbour) whose status contradicts its history: diverged with a
                     finite loss that fell (by 1 % or more) in each of its last two epochs, or ok/stopped with a non-finite loss
Keep a part aside: calibrate on one --seed, quote another.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

MAX_STEPS = 3000        # steps of the original run (its epochs x3 neighbour takes three times as many)
MAX_WORK = 1e10         # 6 x weights x training rows x epochs of the original run: under a second on one core
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001, "adagrad": 0.001}


# ------------------------------------------------------------------ the distribution

def _pick(rng, options, weights):
    w = np.asarray(weights, float)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _round(x: float) -> float:
    return float(f"{x:.2g}")


def sample(rng, files: dict[str, str]) -> dict:
    """One course-like configuration as a raw spec (see the module docstring)."""
    dataset = _pick(rng, ["digits", "cosine2d", "mnist", "fashion-mnist"], [45, 25, 15, 15])
    data: dict = {"validation_split": _pick(rng, [0.1, 0.2], [1, 1])}
    rows = {"digits": 1437, "cosine2d": 2400, "mnist": 3000, "fashion-mnist": 3000}[dataset]
    if dataset == "cosine2d":
        data.update(dataset="cosine2d", n=3000, noise=_round(rng.uniform(0, 0.3)))
    elif dataset == "digits":
        data["dataset"] = files["digits-random-labels"] if rng.random() < 0.05 else "digits"
    else:
        data["dataset"] = files[dataset]
    rows = int(rows * (1 - data["validation_split"]))
    data["scale"] = _pick(rng, ["unit", "none", "standard"], [60, 20, 20])
    if rng.random() < 0.3:
        hidden = [64, 64]
    else:
        depth = _pick(rng, list(range(11)), [8, 25, 25, 12, 7, 5, 4, 4, 4, 3, 3])
        narrow = rng.random() < 0.2
        hidden = [max(2, int(round(_log_uniform(rng, 2, 8) if narrow else _log_uniform(rng, 8, 512))))] * depth
    activation = "relu" if rng.random() < 0.5 else _pick(rng, ["tanh", "sigmoid", "elu", "linear", "softmax"],
                                                         [3, 3, 2, 1, 1])
    init = _pick(rng, ["glorot_uniform", "he_normal", "random_normal", "zeros", "constant"], [45, 20, 25, 5, 5])
    init = ({"name": "random_normal", "stddev": _round(_log_uniform(rng, 1e-4, 10))} if init == "random_normal"
            else {"name": "constant", "value": 0.05} if init == "constant" else init)
    opt = _pick(rng, ["adam", "sgd", "sgd-momentum", "rmsprop", "adagrad"], [30, 25, 15, 15, 15])
    name = "sgd" if opt == "sgd-momentum" else opt
    lr = (DEFAULT_LR[name] * _pick(rng, [0.1, 1 / 3, 1, 3, 10], [1, 1, 2, 1, 1]) if rng.random() < 0.7
          else _log_uniform(rng, 1e-6, 10))
    optimizer = {"name": name, "learning_rate": _round(lr), **({"momentum": 0.9} if opt == "sgd-momentum" else {})}
    batch = 32 if rng.random() < 0.6 else max(1, min(rows, int(round(_log_uniform(rng, 1, rows)))))
    steps = math.ceil(rows / batch)
    inputs = {"digits": 64, "cosine2d": 2}.get(dataset, 784)
    sizes = [inputs, *hidden, 10]
    work = 6 * sum(a * b for a, b in zip(sizes, sizes[1:])) * rows
    epochs = max(2, min(int(round(_log_uniform(rng, 2, 100))), MAX_STEPS // steps, int(MAX_WORK // work)))
    model = {"hidden": hidden, "activation": activation, "init": init,
             "dropout": 0.0 if rng.random() < 0.8 else _round(rng.uniform(0, 0.9)),
             "l2": 0.0 if rng.random() < 0.8 else _round(_log_uniform(rng, 1e-4, 1))}
    train = {"optimizer": optimizer, "epochs": epochs, "batch_size": batch,
             "loss": "mse" if rng.random() < 0.1 else "sparse_categorical_crossentropy",
             "shuffle": bool(rng.random() < 0.95),
             "early_stopping": False if rng.random() < 0.5 else {"monitor": "val_loss", "patience": 3,
                                                                   "restore_best": True}}
    return {"seed": int(rng.integers(0, 1000)), "data": data, "model": model, "train": train}


def data_files(out: Path, seed: int) -> dict[str, str]:
    """The MNIST and Fashion-MNIST subsets and digits with permuted labels, as .npz files under `out`."""
    from mlplab.data import load_raw
    rng = np.random.default_rng(seed)
    files = {}
    for name in ("mnist", "fashion-mnist", "digits"):
        path = out / (f"{name}-random-labels.npz" if name == "digits" else f"{name}-3000.npz")
        key = "digits-random-labels" if name == "digits" else name
        files[key] = str(path)
        if path.exists():
            continue
        raw = load_raw(name)
        if name == "digits":
            arrays = dict(x_train=raw.x_train, y_train=rng.permutation(raw.y_train), x_test=raw.x_test,
                          y_test=raw.y_test)
        else:
            tr = rng.choice(len(raw.x_train), 3000, replace=False)
            te = rng.choice(len(raw.x_test), 1000, replace=False)
            arrays = dict(x_train=raw.x_train[tr], y_train=raw.y_train[tr], x_test=raw.x_test[te],
                          y_test=raw.y_test[te])
        np.savez_compressed(path, **arrays, class_names=np.array(raw.class_names))
    return files


# ------------------------------------------------------------------ the neighbourhood

def _get(raw: dict, key: str):
    node = raw
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def neighbours(raw: dict) -> list[tuple[str, dict]]:
    """(name, changes) of every single change that differs from the run (see the module docstring)."""
    m, t = raw["model"], raw["train"]
    lr = t["optimizer"]["learning_rate"]
    relu = m["activation"] == "relu"
    out = [(f"lr x{f:g}", {"train.optimizer.learning_rate": _round(lr * f)}) for f in (3, 10, 1 / 3, 1 / 10)]
    out += [("scale unit", {"data.scale": "unit"}), ("standard init", {"model.init": "he_normal" if relu
                                                                       else "glorot_uniform"}),
            ("relu", {"model.activation": "relu"}), ("batchnorm", {"model.batchnorm": True}),
            ("dropout 0", {"model.dropout": 0.0}), ("l2 0", {"model.l2": 0.0}),
            ("epochs x3", {"train.epochs": 3 * t["epochs"]}), ("batch 32", {"train.batch_size": 32}),
            ("crossentropy", {"train.loss": "sparse_categorical_crossentropy"}), ("shuffle", {"train.shuffle": True}),
            ("adam", {"train.optimizer": {"name": "adam", "learning_rate": 0.001}}),
            ("wider", {"model.hidden": [max(w, 64) for w in m["hidden"]] or [64]}),
            ("dropout 0.2", {"model.dropout": 0.2} if not m["dropout"] else {}),
            ("early stopping", {"train.early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best": True}})]
    return [(name, ch) for name, ch in out if ch and any(_get(raw, k) != v for k, v in ch.items())]


def changed(raw: dict, changes: dict) -> dict:
    from mlplab.spec import set_dotted
    new = copy.deepcopy(raw)
    for key, value in changes.items():
        set_dotted(new, key, value)
    return new


def spec_key(exp) -> str:
    """Two experiments with this key equal train the same run."""
    resolved = exp.resolved()
    resolved.pop("name", None)
    return json.dumps(resolved, sort_keys=True)


# ------------------------------------------------------------------ training (cached in the store)

class Cache:
    """Trained runs by spec key: {key: {"run_id", "status", "val", "test", "seconds"}} in one JSON file."""

    def __init__(self, out: Path):
        self.path = out / "runs.json"
        self.runs: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.runs))
        tmp.replace(self.path)


def _finite(v) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else float("nan")


def train_missing(store, cache: Cache, experiments: list) -> float:
    """Train the experiments the cache lacks (one call: populations share programs); their wall time."""
    from mlplab.training.runner import run_experiments
    todo, seen = [], set()
    for e in experiments:
        k = spec_key(e)
        if k not in cache.runs and k not in seen:
            todo.append(e)
            seen.add(k)
    if not todo:
        return 0.0
    started = time.perf_counter()
    try:
        results = run_experiments(todo, store)
    except Exception:   # one group's failure should not lose the others: train each alone (Ctrl-C still stops)
        results = []
        for e in todo:
            try:
                results += run_experiments([e], store)
            except Exception as err:
                cache.runs[spec_key(e)] = {"run_id": None, "status": "failed", "val": float("nan"),
                                           "test": float("nan"), "error": str(err)[:200]}
    for r in results:
        cache.runs[spec_key(r.experiment)] = {"run_id": r.run_id, "status": r.status,
                                              "val": _finite((r.result or {}).get("val_accuracy")),
                                              "test": _finite(r.test_accuracy)}
    return time.perf_counter() - started


# ------------------------------------------------------------------ the label

def se_diff(p1: float, p2: float, n: int) -> float:
    return math.sqrt(max(p1 * (1 - p1) + p2 * (1 - p2), 1e-12) / max(n, 1))


def label(orig: float, others: dict[str, float], n_val: int, chance: float) -> tuple[str, list[str], float]:
    """("healthy" | "unhealthy" | "unclear", the right fixes' names, the best neighbour's accuracy)."""
    from mlplab.analysis.status import at_chance
    orig = 0.0 if not math.isfinite(orig) else orig
    vals = {k: v for k, v in others.items() if math.isfinite(v)}
    best = max(vals.values(), default=float("nan"))
    gain = best - orig if math.isfinite(best) else 0.0
    se = se_diff(orig, best if math.isfinite(best) else orig, n_val)
    near = max(2 * se, 0.01)
    right = [k for k, v in vals.items() if v >= best - near] if math.isfinite(best) else []
    if at_chance(orig, chance):
        return "unhealthy", ([] if not math.isfinite(best) or at_chance(best, chance) else right), best
    if gain > max(3 * se, 0.03):
        return "unhealthy", right, best
    if gain <= near and orig >= chance + 0.5 * (1 - chance):
        return "healthy", [], best
    return "unclear", [], best


def status_contradicts(status: str, history: dict) -> bool:
    loss = [float("nan") if v is None else float(v) for v in (history.get("train_loss") or history.get("loss") or [])]
    finite = all(math.isfinite(v) for v in loss)
    if status == "diverged":   # fell by at least 1 % in each of its last two epochs
        return finite and len(loss) >= 3 and loss[-1] < 0.99 * loss[-2] and loss[-2] < 0.99 * loss[-3]
    if status in ("ok", "stopped"):
        return not finite
    return False


# ------------------------------------------------------------------ one configuration

def train_config(i: int, raw: dict, store, cache: Cache) -> float:
    from mlplab.errors import BadInput
    from mlplab.spec import validate
    exps = []
    for changes in [{}] + [ch for _, ch in neighbours(raw)]:
        try:
            exps.append(validate(changed(raw, changes)))
        except BadInput:
            pass
    return train_missing(store, cache, exps)


def _time(stamp: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def score_config(i: int, raw: dict, store, cache: Cache, verbose: bool, train: bool = True) -> dict:
    from mlplab.analysis.doctor.fixes import cli_text
    from mlplab.analysis.status import chance_level
    from mlplab.errors import BadInput
    from mlplab.spec import set_dotted, stored_experiment, validate
    from mlplab.analysis.doctor import diagnose
    from mlplab.stored import load_stats
    from mlplab.stored.repair_report import candidate_fixes
    orig_exp = validate(raw)
    rec = cache.runs.get(spec_key(orig_exp))
    if rec is None:
        return {"i": i, "label": "missing"}
    if rec["run_id"] is None:
        return {"i": i, "label": "failed"}
    run = store.get_run(rec["run_id"], health=False)   # diagnosed below, once
    data = (run.get("summary") or {}).get("data") or {}
    counts = (data.get("class_counts") or {})
    n_val = sum(counts.get("val") or []) or 1
    chance = chance_level(counts.get("train"), len(data.get("class_names") or []) or 2)
    others, trained = {}, [run]
    for name, changes in neighbours(raw):
        try:
            r = cache.runs.get(spec_key(validate(changed(raw, changes))))
        except BadInput:
            continue
        if r and r["run_id"]:
            others[name] = r["val"]
            trained.append(store.get_run(r["run_id"], health=False))
    wrong_status = sum(status_contradicts(x["status"], x["history"]) for x in trained)
    span = (max(_time(x.get("finished") or x["created"]) for x in trained) - min(_time(x["created"]) for x in trained))
    verdict, right, best = label(rec["val"], others, n_val, chance)
    findings = diagnose(run, load_stats(store, run["id"]))
    problems = [f for f in findings if f.severity in ("error", "warning")]
    fixes = candidate_fixes(findings, 1)
    first_fix, fix_right, fix_val = None, None, float("nan")
    if verdict == "unhealthy" and problems:
        if fixes:
            first_fix = cli_text(fixes[0][0])
            resolved = copy.deepcopy(run["spec"])
            try:
                for k, v in fixes[0][0].items():
                    set_dotted(resolved, k, v)
                fix_exp = stored_experiment(resolved)
                fr = cache.runs.get(spec_key(fix_exp))
                if fr is None and not train:
                    return {"i": i, "label": "missing"}
                if fr is None:
                    train_missing(store, cache, [fix_exp])
                    fr = cache.runs.get(spec_key(fix_exp))
                fix_val = fr["val"] if fr else float("nan")
            except BadInput:
                fix_val = float("nan")
            if right:
                near = max(2 * se_diff(best, fix_val if math.isfinite(fix_val) else 0.0, n_val), 0.01)
                fix_right = math.isfinite(fix_val) and fix_val >= best - near
            else:
                fix_right = False
        else:
            fix_right = not right   # no neighbour helps: a finding that points outside the spec is right
    out = {"i": i, "label": verdict, "alarm": bool(problems), "status": run["status"], "val": rec["val"],
           "best": best, "right": right, "codes": [f.code for f in problems], "first_fix": first_fix,
           "fix_val": fix_val, "fix_right": fix_right, "status_wrong": wrong_status, "seconds": span,
           "dataset": str(raw["data"]["dataset"]).split("/")[-1]}
    if verbose:
        print(f"{i:4d} {out['dataset'][:14]:14s} {verdict:9s} {run['status']:8s} val {rec['val']:.3f} "
              f"best {best:.3f} alarm={int(bool(problems))} codes={','.join(out['codes'][:4])} "
              f"fix={first_fix} ({fix_val:.3f}) right={fix_right} right_fixes={','.join(right[:4])}", flush=True)
    return out


# ------------------------------------------------------------------ main

def print_codes(lab: dict) -> None:
    """Which findings (warnings and errors) the healthy and the unhealthy runs got: what to calibrate."""
    codes = sorted({c for k in ("healthy", "unhealthy") for s in lab[k] for c in s["codes"]})
    print(f"{'finding':28s} {'healthy':>8s} {'unhealthy':>9s}")
    for c in codes:
        print(f"{c:28s} {sum(c in s['codes'] for s in lab['healthy']):8d} "
              f"{sum(c in s['codes'] for s in lab['unhealthy']):9d}")


def _worker(args) -> float:
    out, seed, n, worker, workers = args
    from mlplab.store import Store
    store, configs = Store(out / "store"), json.loads((out / "configs.json").read_text())
    total = 0.0
    for i in range(worker, n, workers):
        cache = Cache(out / f"cache-{worker}")
        total += train_config(i, configs[i], store, cache)
        cache.save()
    return total


def _merged(out: Path) -> Cache:
    cache = Cache(out)
    for part in sorted(out.glob("cache-*/runs.json")):
        cache.runs.update(json.loads(part.read_text()))
    return cache


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path)
    p.add_argument("--workers", type=int, default=1, help="training processes (each uses the cores XLA gives it)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--json", type=Path, help="write every run's scores to this file")
    p.add_argument("--no-train", action="store_true", help="score what is trained already (re-score a changed "
                   "doctor); runs whose first fix is not trained yet are left out")
    p.add_argument("--first", type=int, default=0, help="score runs from this index on (runs before it were "
                   "looked at while calibrating)")
    p.add_argument("--score-only", action="store_true", help="train no configuration, only the doctor's first fixes "
                   "of those trained already (after a training phase that was stopped)")
    a = p.parse_args(argv)
    started = time.perf_counter()
    out = a.out or Path(f"/tmp/mlplab-oracle-{a.seed}")
    out.mkdir(parents=True, exist_ok=True)
    for w in range(a.workers):
        (out / f"cache-{w}").mkdir(exist_ok=True)
    files = data_files(out, a.seed)
    rng = np.random.default_rng(a.seed)
    configs = [sample(rng, files) for _ in range(a.n)]
    (out / "configs.json").write_text(json.dumps(configs))
    jobs = [(out, a.seed, a.n, w, a.workers) for w in range(a.workers)]
    if a.no_train or a.score_only:
        train_seconds = 0.0
    elif a.workers > 1:
        import multiprocessing as mp
        import signal
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # `kill` ends the pool's workers too
        with mp.get_context("spawn").Pool(a.workers) as pool:
            train_seconds = sum(pool.map(_worker, jobs))
    else:
        train_seconds = _worker(jobs[0])
    from mlplab.store import Store
    store, cache = Store(out / "store"), _merged(out)
    scores = [score_config(i, raw, store, cache, a.verbose, train=not a.no_train) for i, raw in enumerate(configs)
              if i >= a.first]
    if not a.no_train:
        cache.save()
    missing = sum(s["label"] == "missing" for s in scores)
    scores = [s for s in scores if s["label"] != "missing"]
    lab = {k: [s for s in scores if s["label"] == k] for k in ("healthy", "unhealthy", "unclear", "failed")}
    fixable = [s for s in lab["unhealthy"] if s["fix_right"] is not None and s["right"]]
    no_single = [s for s in lab["unhealthy"] if s["fix_right"] is not None and not s["right"]]
    mnist = sum(1 for s in scores if "3000" in s.get("dataset", ""))
    seconds = time.perf_counter() - started
    if a.json:
        a.json.write_text(json.dumps(scores, indent=1, default=str))
    print(f"SUMMARY n={len(scores)} healthy={len(lab['healthy'])} unhealthy={len(lab['unhealthy'])} "
          f"unclear={len(lab['unclear'])} false_alarms={sum(s['alarm'] for s in lab['healthy'])}/{len(lab['healthy'])} "
          f"recall={sum(s['alarm'] for s in lab['unhealthy'])}/{len(lab['unhealthy'])} "
          f"first_fix_right={sum(bool(s['fix_right']) for s in fixable)}/{len(fixable)} "
          f"status_wrong={sum(bool(s.get('status_wrong')) for s in scores)}/{len(scores)} "
          f"seconds={sum(s.get('seconds', 0.0) for s in scores):.0f} (training each run with its neighbours; this call "
          f"{seconds:.0f} s, {train_seconds:.0f} s of it training; mnist/fashion subsets {mnist}; unhealthy with no single right fix {len(no_single)}, of which "
          f"the doctor points outside the spec {sum(bool(s['fix_right']) for s in no_single)}; failed {len(lab['failed'])}"
          + (f"; not trained yet {missing}" if missing else "") + ")")
    if a.verbose:
        print_codes(lab)
    return 0


if __name__ == "__main__":
    sys.exit(main())

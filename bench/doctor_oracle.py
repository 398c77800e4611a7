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

from oracle_configs import changed, data_files, neighbours, sample, spec_key   # bench/: the script's folder
from oracle_label import label, se_diff, status_contradicts


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

"""`mlplab`: a thin layer over the library. Library errors become one clean line here.

Exit codes: 0 ok, 1 the run failed or diverged, 2 bad input, 130 interrupted.
`--json` prints one JSON document on stdout and nothing else there.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import BadInput, MlplabError

# Piped output (tests, `| less`) gets wide lines instead of rich's 80-column default.
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def _epoch(v: Any) -> str:
    """An epoch number, or the mean of several: 5, 5.5, or - when there is none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return str(int(v)) if float(v) == int(v) else f"{v:.1f}"


def _print_json(doc: Any) -> None:
    from .store import dumps
    sys.stdout.write(dumps(doc, indent=2) + "\n")


# ---------------------------------------------------------------- progress

class EpochPrinter:
    """One line per epoch, as Keras prints them, with seconds and ETA (stderr)."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.elapsed = 0.0

    def __call__(self, exp, run_id: str, epoch: int, rec: dict) -> None:
        self.elapsed += rec["seconds"]
        eta = self.elapsed / epoch * (self.epochs - epoch)
        parts = [f"epoch {epoch:>3}/{self.epochs}", f"loss {_fmt(rec['loss'])}", f"acc {_fmt(rec['accuracy'])}"]
        if "val_loss" in rec:
            parts += [f"val_loss {_fmt(rec['val_loss'])}", f"val_acc {_fmt(rec['val_accuracy'])}"]
        parts += [f"{rec['seconds']:.2f}s", f"ETA {eta:.0f}s"]
        err.print("  ".join(parts))


# ---------------------------------------------------------------- commands

def cmd_run(args: argparse.Namespace) -> int:
    from .spec import load_spec
    exp = load_spec(args.spec, args.set)  # bad specs fail before the slow imports
    from .training.runner import EXIT_CODES, run_experiment
    from .store import Store
    store = Store(args.home)
    callbacks = {} if args.json else {
        "on_epoch": EpochPrinter(exp.train.epochs),
        "on_start": lambda group: err.print(f"[bold]{exp.display_name}[/] on {exp.data.dataset}: training...")}
    result = run_experiment(exp, store, **callbacks)
    if args.json:
        _print_json(result.to_json())
    else:
        for w in result.warnings:
            err.print(f"[yellow]warning:[/] {w}")
        out.print(f"run {result.run_id}: {_status(result.status)} after {result.epochs_run} epochs "
                  f"({result.seconds:.1f}s); result: the weights of {result.result['weights']}: "
                  f"test loss {_fmt(result.test_loss)}, test accuracy {_fmt(result.test_accuracy)}")
        _print_findings(store, result.run_id, brief=True)
        out.print(f"details: mlplab show {result.run_id}; why: mlplab doctor {result.run_id}; "
                  f"pictures: mlplab report {result.run_id}")
    return EXIT_CODES[result.status]


def _status(word: str) -> str:
    """A status in its colour (the same colours as the dashboard and reports)."""
    from .analysis.status import STATUSES, worst
    return f"[bold {STATUSES[worst(word)].color}]{word}[/]"


SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _print_findings(store, run_id: str, brief: bool) -> None:
    from .training.artifacts import load_findings
    for f in load_findings(store, run_id):
        if brief and f.severity == "info":
            continue
        at = f" (from epoch {f.epoch})" if f.epoch else ""
        out.print(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/] {f.title}{at}  [dim]{f.code}[/]")


class SweepPrinter:
    """One line per group and epoch: how many members train, the best so far (stderr)."""

    def __init__(self, total: int):
        self.total, self.done, self.group = total, 0, 0
        self.epoch, self.records = 0, []

    def start(self, group: list) -> None:
        self.flush()
        self.group += 1
        opts = sorted({e.train.optimizer.name for e in group})
        err.print(f"[bold]group {self.group}[/]: {len(group)} members ({self.done + 1}-{self.done + len(group)} "
                  f"of {self.total}), {group[0].display_name.split(' ')[0]}, optimizers {', '.join(opts)}")
        self.done += len(group)

    def __call__(self, exp, run_id: str, epoch: int, rec: dict) -> None:
        if epoch != self.epoch:
            self.flush()
            self.epoch = epoch
        self.records.append((exp, rec))

    def flush(self) -> None:
        if not self.records:
            return
        key = "val_accuracy" if "val_accuracy" in self.records[0][1] else "accuracy"
        exp, rec = max(self.records, key=lambda r: r[1][key] if r[1][key] == r[1][key] else -1)
        err.print(f"  epoch {self.epoch:>3}: {len(self.records):>4} training, {self.records[0][1]['seconds']:.2f}s; "
                  f"best {key} {_fmt(rec[key])} ({exp.display_name.split(' ', 1)[-1]})")
        self.records = []


def _sweep_table(result) -> Table:
    from .spec.sweep import fmt, short
    table = Table(box=None, header_style="bold")
    cols = ["rank", *(short(k) for k in result.keys), "train acc", "val acc", "test acc", "result ep", "best ep",
            "status", "seconds", "params", "finding"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("status", "finding") else "right")

    def acc(row, split):
        mean, std = row[f"{split}_accuracy"], row[f"{split}_accuracy_std"]
        return _fmt(mean) + (f" ±{std:.3f}" if std and std == std else "")
    for row in result.rows:
        table.add_row(str(row["rank"]), *(fmt(row["values"][k]) for k in result.keys), acc(row, "train"),
                      acc(row, "val"), acc(row, "test"), _epoch(row["result_epoch"]), _epoch(row["best_epoch"]),
                      _status(row["status"]),
                      _fmt(row["seconds"], 1), str(row["params"]), row.get("finding") or "")
    return table


def cmd_sweep(args: argparse.Namespace) -> int:
    from .training.sweeps import run_sweep
    from .spec.sweep import expand, fmt, load_raw
    raw = load_raw(args.spec, args.set)
    configs = expand(raw)  # bad sweeps fail before training starts
    from .store import Store
    total = sum(len(c.experiments) for c in configs)
    printer = SweepPrinter(total)
    callbacks = {} if args.json else {"on_epoch": printer, "on_start": printer.start}
    if args.executor == "ray":
        callbacks.pop("on_epoch", None)  # epochs come back with each finished task
    result = run_sweep(raw, Store(args.home), executor=args.executor, address=args.address, **callbacks)
    printer.flush()
    if args.json:
        _print_json(result.to_json())
        return 0
    ranked = ("validation accuracy" if result.ranked_by == "val_accuracy"
              else "test accuracy (no validation split)")
    out.print(f"ranked by {ranked}; accuracies are each run's result (the weights it ends with), "
              "mean ± spread over repeats")
    out.print(_sweep_table(result))
    best = result.best
    out.print(f"\n[bold]best[/]: {', '.join(f'{k} = {fmt(v)}' for k, v in best['values'].items())} "
              f"(validation accuracy {_fmt(best['val_accuracy'])}, test {_fmt(best['test_accuracy'])}; "
              f"run {best['runs'][0]})")
    if result.note:
        out.print(result.note)
    out.print(f"sweep {result.sweep_id}: {total} runs in {result.seconds:.1f}s; "
              f"mlplab runs --sweep {result.sweep_id}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .analysis.compare import comparison
    from .store import Store
    if args.out:
        from .export import check_output_file
        check_output_file("--out", args.out, (".png", ".svg", ".pdf"))  # before any work
    store = Store(args.home)
    runs = [store.get_run(ref) for ref in args.runs]
    doc = comparison(runs)
    if args.out:
        from .present.figures import overlaid_curves
        overlaid_curves([r["history"] for r in runs], [f"{r['id']} {r['name']}" for r in runs]).savefig(args.out, dpi=100)
        doc["curves_png"] = args.out
    if args.json:
        _print_json(doc)
        return 0
    table = Table(box=None, header_style="bold")
    table.add_column("")
    for r in runs:
        table.add_column(r["id"], justify="right")
    for key, values in doc["differences"].items():
        table.add_row(key, *(json.dumps(v) if isinstance(v, (dict, list)) else _fmt(v) for v in values))
    if not doc["differences"]:
        table.add_row("(specs are identical)", *([""] * len(runs)))
    table.add_section()
    for label, values in doc["metrics"].items():
        table.add_row(label, *(_fmt(v) for v in values))
    out.print(table)
    if args.out:
        out.print(f"learning curves: {args.out}")
    return 0


def _runs_table(rows: list[dict]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("id", "name", "dataset", "model", "optimizer", "lr", "status", "test acc", "epochs", "seconds", "created"):
        table.add_column(col, justify="right" if col in ("lr", "test acc", "epochs", "seconds") else "left")
    for r in rows:
        table.add_row(r["id"], r["name"], r["dataset"], r.get("model") or "", r.get("optimizer") or "",
                      _fmt(r.get("learning_rate"), 4) if r.get("learning_rate") is not None else "-",
                      _status(r["status"]), _fmt(r.get("test_accuracy")), _fmt(r.get("epochs_run")),
                      _fmt(r.get("seconds"), 1), (r.get("created") or "")[:19].replace("T", " "))
    return table


def cmd_runs(args: argparse.Namespace) -> int:
    from .store import Store
    store = Store(args.home)
    sweep_id = store.resolve_sweep(args.sweep) if args.sweep else None
    rows = store.list_runs(status=args.status, dataset=args.dataset, sweep_id=sweep_id, limit=args.limit)
    if args.json:
        from .analysis.status import run_row
        _print_json([run_row(r) for r in rows])
    elif not rows and (args.status or args.dataset or sweep_id):
        out.print(f"no runs match (of {len(store.list_runs())} in {store.home})")
    elif not rows:
        out.print(f"no runs in {store.home} yet: try `mlplab run`")
    else:
        out.print(_runs_table(rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml
    from .store import Store
    from .analysis.doctor import diagnose
    from .training.artifacts import load_stats
    store = Store(args.home)
    run = store.get_run(args.run)
    findings = diagnose(run, load_stats(store, run["id"]))
    if args.json:
        _print_json({**run, "findings": [f.to_dict() for f in findings]})
        return 0
    out.print(f"[bold]run {run['id']}[/]  {run['name']}  status {_status(run['status'])}  "
              f"{_fmt(run.get('epochs_run'))} epochs, {_fmt(run.get('seconds'), 1)}s, best epoch {_epoch(run.get('best_epoch'))}")
    if run.get("error"):
        out.print(f"[red]{'why' if run['status'] in ('diverged', 'lost') else 'error'}:[/] {escape(run['error'])}")
    result = (run.get("summary") or {}).get("result")
    if result:
        out.print(f"result: the weights of {result.get('weights')}")
    for w in run.get("warnings") or []:
        out.print(f"[yellow]data warning:[/] {w}")
    if findings:
        out.print("\n[bold]findings[/] (mlplab doctor explains them)")
        _print_findings(store, run["id"], brief=False)
    out.print("\n[bold]spec[/]")
    out.print(yaml.safe_dump(run["spec"], sort_keys=False).rstrip())
    summary = run.get("summary") or {}
    if summary.get("model_summary"):
        out.print("\n[bold]model[/]")
        out.print(summary["model_summary"].rstrip(), markup=False)
    history = run.get("history") or {}
    if history.get("epoch"):
        table = Table(title="history", box=None, header_style="bold")
        cols = [c for c in ("loss", "accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                            "test_loss", "test_accuracy", "seconds") if c in history]
        table.add_column("epoch", justify="right")
        for c in cols:
            table.add_column(c, justify="right")
        for i, e in enumerate(history["epoch"]):
            table.add_row(str(e), *(_fmt(history[c][i]) for c in cols))
        out.print(table)
    ev = summary.get("evaluation")
    if ev:
        out.print(f"\n[bold]test[/] (the result's weights): loss {_fmt(run.get('test_loss'))}, "
                  f"accuracy {_fmt(run.get('test_accuracy'))}")
        table = Table(box=None, header_style="bold")
        for c in ("class", "precision", "recall", "f1", "support"):
            table.add_column(c, justify="left" if c == "class" else "right")
        for row in ev["per_class"]:
            table.add_row(row["class"], _fmt(row["precision"], 3), _fmt(row["recall"], 3), _fmt(row["f1"], 3),
                          str(row["support"]))
        out.print(table)
        out.print("confusion matrix (rows: true, columns: predicted)")
        for row in ev["confusion_matrix"]:
            out.print(" ".join(f"{v:>5}" for v in row))
    out.print(f"\nartifacts: {Store(args.home).artifact_dir(run['id'])}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .training.artifacts import load_findings
    from .store import Store
    store = Store(args.home)
    run_id = store.resolve(args.run)
    findings = load_findings(store, run_id)
    if args.json:
        _print_json({"run_id": run_id, "findings": [f.to_dict() for f in findings]})
        return 0
    if not findings:
        out.print(f"run {run_id}: no findings: the curves, gradients and units look healthy")
    for f in findings:
        at = f", from epoch {f.epoch}" if f.epoch else ""
        out.print(f"\n[{SEVERITY_STYLE[f.severity]}]{f.severity.upper()}[/] [bold]{f.title}[/] [dim]({f.code}{at})[/]")
        out.print(f.explanation)
        out.print(f"[bold]Try:[/] {f.suggestion}")
        out.print("[dim]evidence: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in f.evidence.items()) + "[/]")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .store import Store
    if args.out:
        from .export import check_output_file
        check_output_file("--out", args.out, (".html",))
    store = Store(args.home)
    if args.sweep:
        from .present.report import write_sweep_report
        path = write_sweep_report(store, args.run, args.out)
    else:
        from .present.report import write_report
        path = write_report(store, args.run, args.out)
    if args.json:
        _print_json({"report": str(path)})
    else:
        out.print(f"report: {path}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from .data import datasets
    if args.data_command == "list":
        if args.json:
            _print_json(datasets.DATASETS)
        else:
            for name, text in datasets.DATASETS.items():
                out.print(f"[bold]{name:<14}[/] {text}")
            out.print("or a path: a .npz (x_train, y_train, x_test, y_test), a folder of IDX files, a .csv")
        return 0
    options = {}
    for assignment in args.set:
        from .spec import parse_value
        key, _, value = assignment.partition("=")
        options[key] = parse_value(value)
    ds = datasets.load_dataset(args.name, scale=args.scale, validation_split=0.0, flatten=True, options=options)
    info = ds.info
    n = info.num_classes
    if args.class_index is not None and not 0 <= args.class_index < n:
        raise BadInput(f"--class {args.class_index}: expected 0..{n - 1} ({', '.join(info.class_names)})")
    out_path = Path(args.out or f"{Path(str(args.name)).stem}-samples.png")
    from .present.figures import sample_grid
    fig = sample_grid(ds.x_train, ds.y_train, info.class_names, info.image_shape, class_index=args.class_index,
                      seed=args.seed)
    fig.savefig(out_path, dpi=100)
    doc = {"name": info.name, "source": info.source, "train": [info.n_train, *info.input_shape],
           "test": [info.n_test, *info.input_shape], "dtype": str(ds.x_train.dtype), "scale": info.scale,
           "value_range": [info.value_min, info.value_max], "class_names": info.class_names,
           "class_counts": {k: v for k, v in info.class_counts.items() if k != "val"},
           "warnings": info.warnings, "samples_png": str(out_path)}
    if args.json:
        _print_json(doc)
        return 0
    out.print(f"[bold]{info.name}[/] from {info.source}")
    out.print(f"train {info.n_train} x {info.input_shape}, test {info.n_test}; dtype {doc['dtype']}; "
              f"values {info.value_min:.3g}..{info.value_max:.3g} after scale '{info.scale}'")
    table = Table(box=None, header_style="bold")
    for c in ("class", "name", "train", "test"):
        table.add_column(c)
    for k, name in enumerate(info.class_names):
        table.add_row(str(k), name, str(info.class_counts["train"][k]), str(info.class_counts["test"][k]))
    out.print(table)
    for w in info.warnings:
        out.print(f"[yellow]warning:[/] {w}")
    out.print(f"samples: {out_path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
        from .web import create_app
    except ImportError as e:
        raise BadInput(f"mlplab serve: needs the web packages ({e.name} is missing); "
                       "pip install 'fastapi>=0.110' 'uvicorn>=0.29' 'jinja2>=3.1' 'python-multipart>=0.0.9'") from None
    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port {args.port}: expected 0..65535")
    app = create_app(args.home)
    err.print(f"mlplab dashboard on http://{args.host}:{args.port}/  (store {app.state.store.home}; Ctrl-C stops)")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] listening on {args.host}: anyone who can reach this machine can see "
                  "your runs and start training")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import warnings
    from .predict import RunStatusWarning, predict_file, run_model
    from .store import Store
    store = Store(args.home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunStatusWarning)   # printed below as one line instead
        model = run_model(store, args.run)  # a wrong run fails once, before any image
    if model.warning:
        err.print(f"[yellow]warning:[/] {model.warning}")
    results = [predict_file(store, args.run, path) for path in args.images]
    if args.json:
        _print_json([{"image": str(path), **{k: v for k, v in r.to_dict().items() if k != "input"}}
                     for path, r in zip(args.images, results)])
        return 0
    for path, r in zip(args.images, results):
        top = sorted(range(len(r.probabilities)), key=lambda i: -r.probabilities[i])[:3]
        others = ", ".join(f"{r.class_names[i]} {r.probabilities[i]:.3f}" for i in top[1:])
        out.print(f"{path}: [bold]{r.label}[/] (p = {r.probabilities[r.predicted]:.3f}; then {others})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if not args.tensorboard and not args.onnx:
        raise BadInput("export: nothing to write; give --tensorboard DIR and/or --onnx FILE")
    from .export import check_output_dir, check_output_file, export_onnx, export_tensorboard
    from .store import Store
    if args.tensorboard:
        check_output_dir("--tensorboard", args.tensorboard)  # both targets before any work
    if args.onnx:
        check_output_file("--onnx", args.onnx)
    store = Store(args.home)
    run_id = store.resolve(args.run)
    doc: dict[str, Any] = {"run_id": run_id}
    if args.tensorboard:
        doc["tensorboard"] = str(export_tensorboard(store, run_id, args.tensorboard))
    if args.onnx:
        doc["onnx"] = str(export_onnx(store, run_id, args.onnx))
    if args.json:
        _print_json(doc)
    else:
        if "tensorboard" in doc:
            out.print(f"tensorboard: {doc['tensorboard']}  (view: tensorboard --logdir {args.tensorboard})")
        if "onnx" in doc:
            out.print(f"onnx: {doc['onnx']}")
    return 0


# ---------------------------------------------------------------- parser

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("mlplab")
    except PackageNotFoundError:  # running from a source tree that was never installed
        from . import __version__
        return __version__


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlplab", description="Train and study neural-network classifiers.")
    p.add_argument("--home", help="run store folder (default $MLPLAB_HOME or ./mlplab-runs)")
    p.add_argument("--version", action="version", version=f"mlplab {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        sp.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return sp

    sp = add("run", "train one experiment (default: 64-64 ReLU MLP on digits)")
    sp.add_argument("spec", nargs="?", help="a TOML or YAML spec file")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a dotted spec key, e.g. --set train.learning_rate=0.01")
    sp.set_defaults(func=cmd_run)

    sp = add("runs", "list stored runs, newest first")
    sp.add_argument("--status")
    sp.add_argument("--dataset")
    sp.add_argument("--sweep", help="only the runs of this sweep (id, prefix or 'last')")
    sp.add_argument("--limit", type=int)
    sp.set_defaults(func=cmd_runs)

    sp = add("sweep", "train every configuration of a spec's [sweep] as vectorized populations")
    sp.add_argument("spec", help="a TOML or YAML spec file with a [sweep] section")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a dotted spec key, e.g. --set train.epochs=10")
    sp.add_argument("--executor", choices=["local", "ray"], default="local",
                    help="local (default): populations one after another here; ray: one Ray task each")
    sp.add_argument("--address", help="Ray cluster to join (auto, ray://HOST:PORT); default: a local Ray instance")
    sp.set_defaults(func=cmd_sweep)

    sp = add("compare", "spec differences and metrics of runs side by side")
    sp.add_argument("runs", nargs="+", help="run ids (or unique prefixes)")
    sp.add_argument("--out", help="write the overlaid learning curves to this PNG")
    sp.set_defaults(func=cmd_compare)

    sp = add("show", "show one run: spec, model, history, evaluation")
    sp.add_argument("run", help="run id, a unique prefix of one, or 'last'")
    sp.set_defaults(func=cmd_show)

    sp = add("doctor", "explain what went wrong in a run, and what to change")
    sp.add_argument("run", help="run id, a unique prefix of one, or 'last'")
    sp.set_defaults(func=cmd_doctor)

    sp = add("report", "write a self-contained HTML report of a run (or, with --sweep, of a sweep)")
    sp.add_argument("run", help="run id (or sweep id with --sweep), a unique prefix of one, or 'last'")
    sp.add_argument("--sweep", action="store_true", help="RUN is a sweep: table, heatmap, overlaid curves")
    sp.add_argument("--out", help="HTML file to write (default: report.html in the run's artifact folder)")
    sp.set_defaults(func=cmd_report)

    sp = add("data", "list data sets, or show one")
    dsub = sp.add_subparsers(dest="data_command", required=True)
    dl = dsub.add_parser("list", help="the built-in data sets")
    dl.add_argument("--json", action="store_true")
    ds = dsub.add_parser("show", help="shapes, value range, class counts and a PNG grid of samples")
    ds.add_argument("name", help="digits | mnist | fashion-mnist | cosine2d | a path")
    ds.add_argument("--out", help="PNG file for the sample grid (default NAME-samples.png)")
    ds.add_argument("--class", dest="class_index", type=int, help="show samples of this class only")
    ds.add_argument("--scale", default="unit", help="unit | symmetric | standard | none")
    ds.add_argument("--seed", type=int, default=0)
    ds.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="data set option, e.g. n=2000")
    ds.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_data)

    sp = add("serve", "the local web dashboard: browse, compare, watch live, draw a digit")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8765)
    sp.set_defaults(func=cmd_serve)

    sp = add("predict", "what a run's model says about digit images (prepared the MNIST way)")
    sp.add_argument("run", help="run id, a unique prefix of one, or 'last' (trained on 28x28 or 8x8 images)")
    sp.add_argument("images", nargs="+", metavar="IMAGE", help="PNG/JPEG files of one digit each")
    sp.set_defaults(func=cmd_predict)
    sp = add("export", "write a run as TensorBoard event files and/or an ONNX model")
    sp.add_argument("run", help="run id, a unique prefix of one, or 'last'")
    sp.add_argument("--tensorboard", metavar="DIR", help="write scalars and weight histograms under DIR/<run-id>/")
    sp.add_argument("--onnx", metavar="FILE", help="write the trained model as ONNX (needs jax2onnx)")
    sp.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as e:  # argparse already printed a one-line usage error
        return 2 if e.code else 0
    try:
        return args.func(args)
    except BadInput as e:
        err.print(f"mlplab: error: {e}", markup=False, soft_wrap=True)
        return 2
    except MlplabError as e:
        err.print(f"mlplab: error: {e}", markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err.print("mlplab: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())

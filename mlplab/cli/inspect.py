"""The commands that read the store (and data sets): runs, show, doctor, compare, report, export,
predict, data, serve."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ..errors import BadInput
from .output import SEVERITY_STYLE, epoch_text, err, fmt, out, print_findings, print_json, runs_table, status_text


def cmd_compare(args: argparse.Namespace) -> int:
    from ..analysis.compare import comparison
    from ..store import Store
    curves = ("loss", "accuracy", *(f"{s}_{m}" for s in ("train", "val", "test") for m in ("loss", "accuracy")))
    for metric in args.metric or []:
        if metric not in curves:
            raise BadInput(f"--metric {metric}: expected one of {', '.join(curves)}")
    store = Store(args.home)   # --out was checked before any work (cli.check_outputs)
    runs = [store.get_run(ref) for ref in args.runs]
    doc = comparison(runs)
    if args.out:
        from ..present.figures import overlaid_curves
        metrics = args.metric or ["val_loss", "val_accuracy"]
        overlaid_curves([r["history"] for r in runs], doc["labels"], metrics=metrics).savefig(args.out, dpi=100)
        doc["curves_png"] = args.out
    if args.json:
        print_json(doc)
        return 0
    table = Table(box=None, header_style="bold")
    table.add_column("")
    for r in runs:
        table.add_column(r["id"], justify="right")
    for key, values in doc["differences"].items():
        table.add_row(key, *(json.dumps(v) if isinstance(v, (dict, list)) else fmt(v) for v in values))
    if not doc["differences"]:
        table.add_row("(specs are identical)", *([""] * len(runs)))
    table.add_section()
    for label, values in doc["metrics"].items():
        table.add_row(label, *(fmt(v) for v in values))
    out.print(table)
    if args.out:
        out.print(f"learning curves: {args.out}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ..store import Store
    store = Store(args.home)
    sweep_id = store.resolve_sweep(args.sweep) if args.sweep else None
    rows = store.list_runs(status=args.status, dataset=args.dataset, sweep_id=sweep_id, tag=args.tag, limit=args.limit)
    if args.json:
        from ..analysis.status import run_row
        print_json([run_row(r) for r in rows])
    elif not rows and (args.status or args.dataset or sweep_id or args.tag):
        out.print(f"no runs match (of {len(store.list_runs())} in {store.home})")
    elif not rows:
        out.print(f"no runs in {store.home} yet: try `mlplab run`")
    else:
        out.print(runs_table(rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml
    from ..store import Store
    from ..analysis.doctor import diagnose
    from ..stored import load_stats, run_folder
    store = Store(args.home)
    run = store.get_run(args.run)
    findings = diagnose(run, load_stats(store, run["id"]))
    if args.json:
        print_json({**run, "findings": [f.to_dict() for f in findings]})
        return 0
    out.print(f"[bold]run {run['id']}[/]  {run['name']}  status {status_text(run['status'])}  "
              f"{fmt(run.get('epochs_run'))} epochs, {fmt(run.get('seconds'), 1)}s, best epoch {epoch_text(run.get('best_epoch'))}")
    if run.get("tags") or run.get("note"):
        out.print(" ".join(f"[cyan]#{t}[/]" for t in run.get("tags") or []) + (" " if run.get("tags") else "")
                  + (f"note: {escape(run['note'])}" if run.get("note") else ""))
    if run.get("error"):
        out.print(f"[red]{'why' if run['status'] in ('diverged', 'lost') else 'error'}:[/] {escape(run['error'])}")
    result = (run.get("summary") or {}).get("result")
    if result:
        out.print(f"result: the weights of {result.get('weights')}")
    for w in run.get("warnings") or []:
        out.print(f"[yellow]data warning:[/] {w}")
    if findings:
        out.print("\n[bold]findings[/] (mlplab doctor explains them)")
        print_findings(store, run["id"], brief=False)
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
            table.add_row(str(e), *(fmt(history[c][i]) for c in cols))
        out.print(table)
    ev = summary.get("evaluation")
    if ev:
        out.print(f"\n[bold]test[/] (the result's weights): loss {fmt(run.get('test_loss'))}, "
                  f"accuracy {fmt(run.get('test_accuracy'))}")
        table = Table(box=None, header_style="bold")
        for c in ("class", "precision", "recall", "f1", "support"):
            table.add_column(c, justify="left" if c == "class" else "right")
        for row in ev["per_class"]:
            table.add_row(row["class"], fmt(row["precision"], 3), fmt(row["recall"], 3), fmt(row["f1"], 3),
                          str(row["support"]))
        out.print(table)
        out.print("confusion matrix (rows: true, columns: predicted)")
        for row in ev["confusion_matrix"]:
            out.print(" ".join(f"{v:>5}" for v in row))
    out.print(f"\nartifacts: {run_folder(store, run['id'])}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..stored import load_findings
    from ..stored.repair_report import declined, first_fix, load_report
    from ..store import Store
    store = Store(args.home)
    run_id = store.resolve(args.run)
    findings = load_findings(store, run_id)
    report = _repair(store, run_id, args) if args.fix else None
    if args.json:
        print_json({"run_id": run_id, "findings": [f.to_dict() for f in findings],
                    **({"repair": report.to_dict()} if report else {})})
        return 0
    if report and report.note and not findings:   # nothing was tried: one line says why
        out.print(f"run {run_id}: {escape(report.note)}")
        return 0
    if not findings:
        out.print(f"run {run_id}: no findings: the curves, gradients and units look healthy")
    latest = report if report and not report.note else load_report(store, run_id)
    if latest and not report:   # the answer of the latest repair first: what to change, as measured
        out.print(f"[bold]latest repair:[/] {escape(latest.verdict())}")
    for f in findings:
        at = f", from epoch {f.epoch}" if f.epoch else ""
        kind = "cause" if f.kind == "cause" else "symptom"
        out.print(f"\n[{SEVERITY_STYLE[f.severity]}]{f.severity.upper()}[/] [dim]{kind}[/] [bold]{escape(f.title)}[/] "
                  f"[dim]({f.code}{at})[/]")
        out.print(escape(f.explanation))
        if f.explains:
            out.print(f"[dim]explains: {', '.join(f.explains)}[/]")
        if f.suggestion:
            tried = latest.tried(f.fixes[0]) if latest and f.fixes else None
            out.print(f"[bold]Try:[/] {escape(f.suggestion)}" + (f"  [dim]({escape(tried)})[/]" if tried else ""))
        out.print("[dim]evidence: " + escape(", ".join(f"{k} = {fmt(v)}" for k, v in f.evidence.items())) + "[/]")
    if report and not report.note:
        out.print(f"\n[bold]repair[/] ({len(report.candidates)} candidate fixes trained in {report.seconds:.1f}s"
                  + (f"; the run itself took {report.original_seconds:.1f}s" if report.original_seconds else "") + ")")
        out.print(escape(str(report)))
    elif report:
        out.print(f"\n--fix: {escape(report.note)}")
    elif any(f.problem for f in findings):
        reason = declined(store.get_run(run_id), findings)
        out.print(f"\n[bold]First to try:[/] {escape(first_fix(findings))}\n[dim]mlplab doctor {run_id} --fix "
                  "trains it and the next fixes, and answers with the best of them[/]" if reason is None
                  else f"\n[dim]no --fix: {escape(reason)}[/]")
    return 0


def _repair(store, run_id: str, args: argparse.Namespace):
    from ..training.repair import repair
    from .output import SweepPrinter
    printer = None if args.json else SweepPrinter(args.candidates)
    report = repair(store, run_id, candidates=args.candidates,
                    **({"on_epoch": printer, "on_start": printer.start} if printer else {}))
    if printer:
        printer.flush()
    return report


def cmd_report(args: argparse.Namespace) -> int:
    from ..store import Store
    store = Store(args.home)
    if args.sweep and args.pdf:
        from ..present.pdf import write_sweep_pdf
        path = write_sweep_pdf(store, args.run, args.out)
    elif args.sweep:
        from ..present.sweep_report import write_sweep_report
        path = write_sweep_report(store, args.run, args.out)
    elif args.pdf:
        from ..present.pdf import write_run_pdf
        path = write_run_pdf(store, args.run, args.out)
    else:
        from ..present.run_report import write_report   # not present.report: the sweep report's imports (0.2 s)
        path = write_report(store, args.run, args.out)
    if args.json:
        print_json({"report": str(path)})
    else:
        out.print(f"report: {path}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from ..data import DATASETS, load_dataset
    if args.data_command == "list":
        if args.json:
            print_json(DATASETS)
        else:
            for name, text in DATASETS.items():
                out.print(f"[bold]{name:<14}[/] {text}")
            out.print("or a path: a .npz (x_train, y_train, x_test, y_test), a folder of IDX files, a .csv")
        return 0
    from ..spec import parse_assignment
    out_path = Path(args.out or f"{Path(str(args.name)).stem}-samples.png")
    if not args.out:   # a given --out was checked with the others (cli.check_outputs)
        from ..export import check_output_file
        check_output_file("--out", out_path)
    options = dict(parse_assignment(assignment) for assignment in args.set)
    ds = load_dataset(args.name, scale=args.scale, validation_split=0.0, flatten=True, options=options)
    info = ds.info
    n = info.num_classes
    if args.class_index is not None and not 0 <= args.class_index < n:
        raise BadInput(f"--class {args.class_index}: expected 0..{n - 1} ({', '.join(info.class_names)})")
    from ..present.figures import dataset_samples
    fig = dataset_samples(ds, args.split, index=args.index, count=args.count, class_index=args.class_index,
                      seed=args.seed)
    fig.savefig(out_path, dpi=100)
    doc = {"name": info.name, "source": info.source, "train": [info.n_train, *info.input_shape],
           "test": [info.n_test, *info.input_shape], "dtype": str(ds.x_train.dtype), "scale": info.scale,
           "value_range": [info.value_min, info.value_max], "class_names": info.class_names,
           "class_counts": {k: v for k, v in info.class_counts.items() if k != "val"},
           "warnings": info.warnings, "samples_png": str(out_path)}
    if args.json:
        print_json(doc)
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
    import os
    try:
        import uvicorn
        from ..web import create_app
    except ImportError as e:
        raise BadInput(f"mlplab serve: needs the web packages ({e.name} is missing); "
                       "pip install 'fastapi>=0.110' 'uvicorn>=0.29' 'jinja2>=3.1' 'python-multipart>=0.0.9'") from None
    loopback = args.host in ("127.0.0.1", "localhost", "::1")
    if args.no_token and not loopback:
        raise BadInput(f"--no-token with --host {args.host}: anyone who can reach this machine could start "
                       "training; use the token, or --host 127.0.0.1")
    token = False if args.no_token else (os.environ.get("MLPLAB_TOKEN") or True)
    app = create_app(args.home, token=token, host=args.host, allowed_hosts=tuple(args.allow_host))
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else \
        (f"[{args.host}]" if ":" in args.host else args.host)
    secret = app.state.security.token
    err.print(f"mlplab dashboard: http://{shown}:{args.port}/" + (f"?token={secret}" if secret else ""),
              markup=False, soft_wrap=True)
    err.print(f"(store {app.state.store.home}; open the URL above, it carries the token; Ctrl-C stops)",
              markup=False, soft_wrap=True)
    if args.no_token:
        err.print("[yellow]warning:[/] --no-token: any program or user on this machine can use the dashboard "
                  "and start training (web pages from other sites still cannot)")
    if not loopback:
        err.print(f"[yellow]warning:[/] listening on {args.host}: anyone who can reach this machine and has the "
                  "token can see your runs and start training")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import warnings
    from ..predict import RunStatusWarning, predict_file, run_model
    from ..store import Store
    store = Store(args.home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunStatusWarning)   # printed below as one line instead
        model = run_model(store, args.run)  # a wrong run fails once, before any image
    if model.warning:
        err.print(f"[yellow]warning:[/] {model.warning}")
    results = [predict_file(store, args.run, path) for path in args.images]
    if args.json:
        print_json([{"image": str(path), **{k: v for k, v in r.to_dict().items() if k != "input"}}
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
    from ..export import export_onnx, export_tensorboard
    from ..store import Store
    store = Store(args.home)
    run_id = store.resolve(args.run)
    doc: dict[str, Any] = {"run_id": run_id}
    if args.tensorboard:
        doc["tensorboard"] = str(export_tensorboard(store, run_id, args.tensorboard))
    if args.onnx:
        doc["onnx"] = str(export_onnx(store, run_id, args.onnx))
    if args.json:
        print_json(doc)
    else:
        if "tensorboard" in doc:
            out.print(f"tensorboard: {doc['tensorboard']}  (view: tensorboard --logdir {args.tensorboard})")
        if "onnx" in doc:
            out.print(f"onnx: {doc['onnx']}")
    return 0

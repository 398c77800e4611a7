"""`mlplab run` and `mlplab sweep`: train, print progress on stderr and the result on stdout."""
from __future__ import annotations

import argparse
import json

from rich.markup import escape

from .output import (EpochPrinter, SweepPrinter, err, fmt, out, print_findings, print_json, print_preflight, status_text,
                     sweep_table)


def overrides(args: argparse.Namespace) -> list[str]:
    """The --set overrides, and --tensorboard DIR as train.tensorboard."""
    return [*args.set, *([f"train.tensorboard={json.dumps(args.tensorboard)}"] if args.tensorboard else [])]


def live_warning(run_id: str, epoch: int, finding) -> None:
    """The doctor's live check, as training goes on (stderr): what it sees and the first fix."""
    fix = f"; try {finding.suggestion}" if finding.suggestion else ""
    err.print(f"[yellow]{finding.severity} after epoch {epoch}:[/] {escape(finding.title)}{escape(fix)}  "
              f"[dim]({finding.code}; mlplab doctor explains at the end)[/]", soft_wrap=True)


def cmd_run(args: argparse.Namespace) -> int:
    from ..spec import load_spec
    exp = load_spec(args.spec, overrides(args))  # bad specs fail before the slow imports
    if args.dry_run:
        return dry_run([exp], args.json)
    print_preflight(exp)  # the doctor's configuration checks: warnings on stderr, never blocking
    from ..analysis.status import EXIT_CODES
    from ..training.runner import run_experiment
    from ..store import Store
    store = Store(args.home)
    printer = EpochPrinter(exp.train.epochs)
    callbacks = {} if args.json else {
        "on_epoch": printer, "on_step": printer.step, "on_warning": live_warning,
        "on_start": lambda group: err.print(f"[bold]{exp.display_name}[/] on {exp.data.dataset}: training...")}
    result = run_experiment(exp, store, **callbacks)
    if args.json:
        print_json(result.to_json())
    else:
        for w in result.warnings:   # the data checks: notes; the doctor's findings below say what they did
            err.print(f"note: {w}", markup=False, soft_wrap=True)
        out.print(f"run {result.run_id}: {status_text(result.status)} after {result.epochs_run} epochs "
                  f"({result.seconds:.1f}s); result: the weights of {result.result['weights']}: "
                  f"test loss {fmt(result.test_loss)}, test accuracy {fmt(result.test_accuracy)}")
        print_findings(store, result.run_id, brief=True)
        out.print(f"details: mlplab show {result.run_id}; why: mlplab doctor {result.run_id}; "
                  f"pictures: mlplab report {result.run_id}")
    return EXIT_CODES[result.status]


def dry_run(experiments: list, as_json: bool, sweep: bool = False) -> int:
    """--dry-run: what the run (or the sweep's runs) would cost on this machine; nothing trains, nothing is
    stored. Exit 2, after the estimate, when this machine's memory cannot hold it (as the run would)."""
    from ..analysis.cost import estimate_sweep, fits, time_text
    estimates, seconds = estimate_sweep(experiments)
    largest = max(range(len(estimates)), key=lambda i: estimates[i].memory())
    if as_json:
        doc = {"runs": len(estimates), "seconds": round(seconds, 2), "largest": estimates[largest].to_json()}
        print_json({**doc, "estimates": [e.to_json() for e in estimates]} if sweep else estimates[0].to_json())
    elif sweep:
        out.print(f"dry run: {len(estimates)} runs, about {time_text(seconds)} in all on this machine; the largest: "
                  f"{estimates[largest].text()}", markup=False, soft_wrap=True)
    else:
        out.print(f"dry run: {experiments[0].display_name} on {experiments[0].data.dataset}: "
                  f"{estimates[0].text()}", markup=False, soft_wrap=True)
    fits(experiments[largest], estimates[largest])
    if not as_json:
        out.print("nothing trained, nothing stored (early stopping may end a run sooner)")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..training.sweeps import run_sweep
    from ..spec.sweep import expand, load_raw, value_text
    raw = load_raw(args.spec, overrides(args))
    configs = expand(raw)  # bad sweeps fail before training starts
    if args.dry_run:
        return dry_run([e for c in configs for e in c.experiments], args.json, sweep=True)
    from ..store import Store
    total = sum(len(c.experiments) for c in configs)
    printer = SweepPrinter(total)
    callbacks = {} if args.json else {"on_epoch": printer, "on_step": printer.step, "on_start": printer.start}
    if args.executor == "ray":
        callbacks.pop("on_epoch", None)  # epochs come back with each finished task
        callbacks.pop("on_step", None)
    result = run_sweep(raw, Store(args.home), executor=args.executor, address=args.address, configs=configs,
                       **callbacks)
    printer.flush()
    if args.json:
        print_json(result.to_json())
        return 0
    ranked = ("validation accuracy" if result.ranked_by == "val_accuracy"
              else "test accuracy (no validation split)")
    out.print(f"ranked by {ranked}; accuracies are each run's result (the weights it ends with), "
              "mean ± spread over repeats")
    out.print(sweep_table(result))
    best = result.best
    out.print(f"\n[bold]best[/]: {', '.join(f'{k} = {value_text(v)}' for k, v in best['values'].items())} "
              f"(validation accuracy {fmt(best['val_accuracy'])}, test {fmt(best['test_accuracy'])}; "
              f"run {best['runs'][0]})")
    if result.note:
        out.print(result.note)
    out.print(f"sweep {result.sweep_id}: {total} runs in {result.seconds:.1f}s; "
              f"mlplab runs --sweep {result.sweep_id}")
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from ..spec.recipes import recipes
    found = recipes()
    if args.json:
        print_json([r.to_json() for r in found])
        return 0
    for r in found:
        out.print(f"[bold]recipe:{r.name}[/]  {r.recipe}")
        out.print(f"    target:   {r.target}")
        out.print(f"    measured: {r.measured}")
    out.print("run one: mlplab run recipe:NAME; a sweep around its settings: mlplab/recipes/search/NAME.toml")
    return 0


def cmd_optimizers(args: argparse.Namespace) -> int:
    """`mlplab optimizers [NAME]`: each parameter of an optimizer (of all without NAME), Keras' default
    and what it does."""
    from ..catalog import OPTIMIZERS
    from ..spec.help import optimizer_help, optimizer_text
    names = [args.name] if args.name else list(OPTIMIZERS)
    if args.json:
        print_json({str(n).lower(): optimizer_help(n) for n in names})
        return 0
    out.print("\n\n".join(optimizer_text(n) for n in names), markup=False)
    return 0


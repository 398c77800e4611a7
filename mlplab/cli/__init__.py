"""`mlplab`: a thin layer over the library (the commands live in cli.train and cli.inspect). Library errors become one clean line here.

Exit codes: 0 ok, 1 the run failed or diverged, 2 bad input, 130 interrupted.
`--json` prints one JSON document on stdout and nothing else there.
"""

import argparse
import contextlib
import gc
import re
import sys

from ..errors import BadInput, MlplabError
from .output import err, json_only
from .inspect import (cmd_compare, cmd_data, cmd_doctor, cmd_export, cmd_predict, cmd_report, cmd_runs, cmd_serve,
                      cmd_show)
from .labels import cmd_note, cmd_rename, cmd_rm, cmd_tag
from .train import cmd_optimizers, cmd_recipes, cmd_run, cmd_sweep


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("mlplab")
    except PackageNotFoundError:  # running from a source tree that was never installed
        from .. import __version__
        return __version__


class UsageError(Exception):
    """What argparse would print with a usage block: here one line, `mlplab run: ...; see mlplab run --help`."""

    def __init__(self, prog: str, message: str):
        super().__init__(f"{prog}: {message}; see {prog} --help")


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing its usage and exiting (its subparsers too)."""

    def error(self, message: str):
        from ..spec.messages import did_you_mean
        choice = re.match(r"(.*invalid choice: '?([^' ]*)'?) \(choose from (.*)\)$", message)
        if choice:   # argparse lists every choice (quoted before Python 3.12.8); the nearest one first
            head, given, allowed = choice.groups()
            known = [c.strip().strip("'") for c in allowed.split(",")]
            message = f"{head}; {did_you_mean(given, known)}expected one of {', '.join(known)}"
        raise UsageError(self.prog, message)


def whole(low: int, high: int | None = None):
    """An argparse type: a whole number from `low` (to `high`), else the range in one line."""
    allowed = f"a whole number >= {low}" if high is None else f"a whole number from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text}: expected {allowed}")
        return value
    return parse


FIGURES = (".png", ".svg", ".pdf")   # what a figure's --out may end in


def check_outputs(args: argparse.Namespace) -> None:
    """Every file and folder a command will write, checked before any work (a typo costs nothing):
    --out (its suffixes: the command's out_suffixes), --onnx, --tensorboard; an empty path is refused (it read
    as not given)."""
    for option in ("out", "onnx", "tensorboard"):
        if getattr(args, option, None) == "":
            raise BadInput(f"--{option} '': expected a {'folder' if option == 'tensorboard' else 'file'} path")
    if not any(getattr(args, a, None) for a in ("out", "onnx", "tensorboard")):
        return
    from ..export import check_output_dir, check_output_file
    if getattr(args, "out", None):
        check_output_file("--out", args.out, (".pdf",) if getattr(args, "pdf", False) else args.out_suffixes)
    if getattr(args, "onnx", None):
        check_output_file("--onnx", args.onnx)
    if getattr(args, "tensorboard", None):
        check_output_dir("--tensorboard", args.tensorboard)


def _add(sub, name: str, help_: str) -> argparse.ArgumentParser:
    sp = sub.add_parser(name, help=help_)
    sp.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    sp.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return sp


TENSORBOARD_HELP = ("while training, write TensorBoard event files under DIR/<run-id>/ (Keras' layout: train/ and "
                    "validation/ overlaid; weight histograms per epoch; train.tensorboard in a spec)")

DRY_RUN_HELP = ("print what it would cost on this machine (parameters, memory, time per epoch and in all, compiling); "
                "train and store nothing")


def _training_commands(add) -> None:
    sp = add("run", "train one experiment (default: 64-64 ReLU MLP on digits)")
    sp.add_argument("spec", nargs="?", help="a TOML or YAML spec file, or recipe:NAME (see mlplab recipes)")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a dotted spec key, e.g. --set train.learning_rate=0.01")
    sp.add_argument("--tensorboard", metavar="DIR", help=TENSORBOARD_HELP)
    sp.add_argument("--dry-run", action="store_true", help=DRY_RUN_HELP)
    sp.set_defaults(func=cmd_run)

    sp = add("sweep", "train every configuration of a spec's [sweep] as vectorized populations")
    sp.add_argument("spec", help="a TOML or YAML spec file with a [sweep] section")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a dotted spec key, e.g. --set train.epochs=10")
    sp.add_argument("--executor", choices=["local", "ray"], default="local",
                    help="local (default): populations one after another here; ray: one Ray task each")
    sp.add_argument("--address", help="Ray cluster to join (auto, ray://HOST:PORT); default: a local Ray instance")
    sp.add_argument("--tensorboard", metavar="DIR", help=TENSORBOARD_HELP)
    sp.add_argument("--dry-run", action="store_true", help=DRY_RUN_HELP)
    sp.set_defaults(func=cmd_sweep)

    sp = add("optimizers", "what an optimizer takes: each parameter, its default (Keras') and what it does")
    sp.add_argument("name", nargs="?", help="sgd | adam | adamw | rmsprop | adagrad (default: all of them)")
    sp.set_defaults(func=cmd_optimizers)

    sp = add("recipes", "specs that beat published baselines on a laptop CPU: targets, measured accuracy, time")
    sp.set_defaults(func=cmd_recipes)


def _reading_commands(add) -> None:
    sp = add("runs", "list stored runs, newest first")
    sp.add_argument("--status")
    sp.add_argument("--dataset")
    sp.add_argument("--sweep", help="only the runs of this sweep (id, prefix or 'last')")
    sp.add_argument("--tag", help="only the runs carrying this tag (mlplab tag)")
    sp.add_argument("--limit", type=whole(1), metavar="N", help="at most N runs")
    sp.set_defaults(func=cmd_runs)

    sp = add("compare", "spec differences and metrics of runs side by side")
    sp.add_argument("runs", nargs="+", help="run ids (or unique prefixes)")
    sp.add_argument("--out", help="write the overlaid learning curves to this PNG")
    sp.add_argument("--metric", action="append", metavar="NAME",
                    help="a curve to overlay (repeatable): loss, accuracy, train_/val_/test_loss or _accuracy; "
                         "default val_loss and val_accuracy")
    sp.set_defaults(func=cmd_compare, out_suffixes=FIGURES)

    sp = add("show", "show one run: spec, model, history, evaluation")
    sp.add_argument("run", help="run id, a unique prefix of one, or 'last'")
    sp.set_defaults(func=cmd_show)

    sp = add("doctor", "explain what went wrong in a run (causes first), and what to change")
    sp.add_argument("run", help="run id, a unique prefix of one, or 'last'")
    sp.add_argument("--fix", action="store_true",
                    help="train the top candidate fixes as repairs of the run and answer with the one that reaches the "
                         "best validation accuracy (a simpler one within noise of it wins)")
    sp.add_argument("--candidates", type=whole(1), default=3, metavar="N", help="how many fixes --fix tries (default 3)")
    sp.set_defaults(func=cmd_doctor)

    sp = add("report", "write a self-contained HTML report of a run (or, with --sweep, of a sweep)")
    sp.add_argument("run", help="run id (or sweep id with --sweep), a unique prefix of one, or 'last'")
    sp.add_argument("--sweep", action="store_true", help="RUN is a sweep: table, heatmap, overlaid curves")
    sp.add_argument("--out", help="HTML file to write (default: report.html in the run's artifact folder; with --pdf, "
                                  "a .pdf file, default report.pdf there)")
    sp.add_argument("--pdf", action="store_true",
                    help="a PDF instead: a title page with the facts and the doctor's findings, then every figure")
    sp.set_defaults(func=cmd_report, out_suffixes=(".html",))

    sp = add("serve", "the local web dashboard: browse, compare, watch live, draw a digit")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=whole(0, 65535), default=8765)
    sp.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="also answer requests for this Host name (localhost names, loopback addresses and --host "
                         "always are; others get 403, which stops DNS rebinding)")
    sp.add_argument("--no-token", action="store_true",
                    help="no secret token in the URL (not recommended: any program on this machine can then use "
                         "the dashboard; only with a loopback --host)")
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


def _labelling_commands(add) -> None:
    ref = "run id, a unique prefix of one, or 'last' (a sweep's with --sweep)"
    sweep = "RUN is a sweep"
    sp = add("tag", "tag a run (or a sweep) to find it again: mlplab runs --tag TAG")
    sp.add_argument("run", help=ref)
    sp.add_argument("tags", nargs="+", metavar="TAG", help="1-40 characters: letters, digits, '-', '_', '.'")
    sp.add_argument("--remove", action="store_true", help="remove these tags instead")
    sp.add_argument("--sweep", action="store_true", help=sweep)
    sp.set_defaults(func=cmd_tag)

    sp = add("note", "write a note on a run (or a sweep); an empty TEXT removes it")
    sp.add_argument("run", help=ref)
    sp.add_argument("text", help="the note (quote it), up to 10,000 characters")
    sp.add_argument("--sweep", action="store_true", help=sweep)
    sp.set_defaults(func=cmd_note)

    sp = add("rename", "give a run (or a sweep) another name")
    sp.add_argument("run", help=ref)
    sp.add_argument("name", help="1-200 characters, no line breaks")
    sp.add_argument("--sweep", action="store_true", help=sweep)
    sp.set_defaults(func=cmd_rename)

    sp = add("rm", "delete runs (rows and folders), or a sweep with its runs; asks first unless --yes")
    sp.add_argument("runs", nargs="+", metavar="RUN", help=ref)
    sp.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    sp.add_argument("--sweep", action="store_true", help="RUN is a sweep: delete it and all its runs")
    sp.set_defaults(func=cmd_rm)


def _data_command(add) -> None:
    sp = add("data", "list data sets, or show one")
    dsub = sp.add_subparsers(dest="data_command", required=True)
    dl = dsub.add_parser("list", help="the built-in data sets")
    dl.add_argument("--json", action="store_true")
    ds = dsub.add_parser("show", help="shapes, value range, class counts and a PNG grid of samples")
    ds.add_argument("name", help="digits | mnist | fashion-mnist | cosine2d | a path")
    ds.add_argument("--out", help="PNG file for the sample grid (default NAME-samples.png)")
    ds.add_argument("--class", dest="class_index", type=whole(0), help="show samples of this class only")
    ds.add_argument("--index", type=whole(0), help="show this row (large, with its label), as plt.imshow(x_train[i])")
    ds.add_argument("--count", type=whole(1), help="how many rows from --index (default 1), or random samples (25)")
    ds.add_argument("--split", choices=["train", "test"], default="train", help="which split to show (default train)")
    ds.add_argument("--scale", default="unit", help="unit | symmetric | standard | none")
    ds.add_argument("--seed", type=whole(0), default=0)
    ds.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="data set option, e.g. n=2000")
    ds.add_argument("--json", action="store_true")
    ds.set_defaults(out_suffixes=FIGURES)
    sp.set_defaults(func=cmd_data)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="mlplab", description="Train and study neural-network classifiers.")
    p.add_argument("--home", help="run store folder (default $MLPLAB_HOME or ./mlplab-runs)")
    p.add_argument("--version", action="version", version=f"mlplab {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        return _add(sub, name, help_)
    _training_commands(add)
    _reading_commands(add)
    _labelling_commands(add)
    _data_command(add)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line's arguments, or UsageError naming the (sub)command they were meant for."""
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra:   # argparse finds them at the top; they belong to the command
        prog = " ".join(["mlplab", *(c for c in (args.command, getattr(args, "data_command", None)) if c)])
        raise UsageError(prog, f"unrecognized argument{'s' if len(extra) > 1 else ''} {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(argv)
    except SystemExit as e:  # --help or --version, printed
        return 2 if e.code else 0
    except UsageError as e:
        err.print(str(e), markup=False, soft_wrap=True)
        return 2
    try:
        check_outputs(args)
        with json_only() if getattr(args, "json", False) else contextlib.nullcontext():
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


def entry() -> None:
    """The `mlplab` command: `main`, then exit. What is left is frozen first (gc.freeze): the interpreter's
    last garbage collection would walk every object the command made and imported, 0.2-0.3 s after
    matplotlib or Keras, to free memory the exit frees anyway."""
    code = main()
    gc.freeze()
    sys.exit(code)

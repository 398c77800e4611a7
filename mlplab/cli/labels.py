"""The commands that label and clear out runs and sweeps: tag, note, rename, rm (the store checks every
value: store.labels; deletes: store.removal)."""
from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from ..errors import BadInput
from .output import err, out, print_json


def _kind(args: argparse.Namespace) -> str:
    return "sweep" if args.sweep else "run"


def _labelled(args: argparse.Namespace, label) -> int:
    """Resolve the run (or the sweep with --sweep), apply `label(store, kind, id)` -> (its JSON document, the
    line that says what it did), and answer."""
    from ..store import Store
    store, kind = Store(args.home), _kind(args)
    the_id = store.resolve_sweep(args.run) if args.sweep else store.resolve(args.run)
    doc, line = label(store, kind, the_id)
    if args.json:
        print_json({"id": the_id, **doc})
    else:
        out.print(f"{kind} {the_id}: {line}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    def tag(store, kind, the_id):
        tags = store.tag(kind, the_id, remove=args.tags) if args.remove else store.tag(kind, the_id, add=args.tags)
        return {"tags": tags}, f"tags {escape(', '.join(tags)) if tags else '(none)'}"
    return _labelled(args, tag)


def cmd_note(args: argparse.Namespace) -> int:
    def note(store, kind, the_id):
        text = store.note(kind, the_id, args.text)
        return {"note": text}, f"note {escape(text)}" if text else "note removed"
    return _labelled(args, note)


def cmd_rename(args: argparse.Namespace) -> int:
    def rename(store, kind, the_id):
        name = store.rename(kind, the_id, args.name)
        return {"name": name}, f"now named {escape(name)}"
    return _labelled(args, rename)


def cmd_rm(args: argparse.Namespace) -> int:
    """Delete runs (or a sweep with its runs) after a y/N question on the terminal, unless --yes."""
    from ..store import Store
    store = Store(args.home)
    if args.sweep:
        if len(args.runs) != 1:
            raise BadInput(f"rm --sweep {' '.join(args.runs)}: give one sweep at a time")
        sweep = store.get_sweep(args.runs[0])
        what = f"sweep {sweep['id']} {sweep['name']!r} and its {len(sweep['runs'])} runs with their folders"
    else:
        runs = [store.get_run(ref, health=False) for ref in dict.fromkeys(args.runs)]
        what = ", ".join(f"run {r['id']} {r['name']!r} ({r['status']})" for r in runs) + \
            (" and its folder" if len(runs) == 1 else " and their folders")
    if not args.yes and not confirmed(f"delete {what}?"):
        err.print("mlplab rm: nothing was deleted", markup=False)
        return 0
    if args.sweep:
        sweep_id, ids = store.delete_sweep(sweep["id"])
        doc = {"sweep_id": sweep_id, "deleted": ids}
    else:
        doc = {"deleted": store.delete_runs([r["id"] for r in runs])}
    if args.json:
        print_json(doc)
    else:
        out.print(f"deleted {what}", markup=False)
    return 0


def confirmed(question: str) -> bool:
    """The user's y/N answer on the terminal; BadInput when no one can answer (stdin is not a terminal or
    is closed): a script must say --yes."""
    if not sys.stdin or not sys.stdin.isatty():
        raise BadInput("rm: asks before deleting, and stdin is not a terminal; add --yes to delete without asking")
    err.print(f"{question} [y/N] ", end="", markup=False, soft_wrap=True)
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")

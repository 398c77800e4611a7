"""The second drawer of a run's report: the figures it has not drawn, from the last, in a process of its own.

    python -m mlplab.present.ahead STORE_HOME RUN_ID '[[name, options], ...]'

Started by run_report beside the report's own process, which draws the same figures from the first:
each figure drawn is stored as its view (present.views), whoever reaches it first drawing it while the
other waits for its lock and then reads it. This process stops at the first figure it finds stored: the
two have met. The list starts with the t-SNE (hidden-representation), the slowest figure; a run trained
alone stored its layer's outputs (store.artifacts.HIDDEN), so its t-SNE needs neither Keras nor
scikit-learn here (for another run, Keras loads the model). It only saves the report time: whatever it
fails to draw, or leaves when stopped (Ctrl-C), the report's own process draws, so it fails quietly.
"""
from __future__ import annotations

import gc
import json
import sys


def main(argv: list[str]) -> int:
    try:
        draw(*argv)
    except (Exception, KeyboardInterrupt):
        return 1
    return 0


def draw(home: str, run_id: str, figures: str) -> None:
    from ..store import Store
    from ..stored import RunArtifacts
    from .registry import figure_png, stored_png
    store = Store(home)
    art = RunArtifacts(store, store.get_run(run_id))
    for name, options in json.loads(figures):
        if stored_png(art, name, **options) is not None:
            break
        try:
            figure_png(art, name, **options)
        except Exception:   # the report's own process meets it again and writes its note
            pass


if __name__ == "__main__":
    code = main(sys.argv[1:])
    gc.freeze()   # no last garbage collection at exit (mlplab.cli.entry)
    sys.exit(code)

"""A run's t-SNE computed in a process of its own, for a report drawn beside it.

    python -m mlplab.present.ahead STORE_HOME RUN_ID OPTIONS_JSON

Stores the t-SNE of the hidden-representation figure (its embedding view) as the report's own call
would; the report, reaching that figure, waits for the view's lock, reads what was stored and draws
the figure. Started by run_report when the report's process has not imported JAX: importing
scikit-learn (about 2.5 s) and the t-SNE then run on the second core while the other figures are
drawn. A run trained alone stored its last hidden layer's outputs (training.artifacts.HIDDEN), so
this process needs neither a Keras model nor matplotlib; for another run it imports Keras and loads
the model (about 4 s more).
"""
from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    home, run_id, options = argv
    from ..store import Store
    from ..training.artifacts import RunArtifacts
    from .registry import embedding_of
    store = Store(home)
    embedding_of(RunArtifacts(store, store.get_run(run_id)), **json.loads(options))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

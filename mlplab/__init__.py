"""mlplab: train and study neural-network classifiers on MNIST-family data.

    import mlplab as ml
    run = ml.run(epochs=5)            # see mlplab.api for the whole Python API
    ml.set_home("runs")               # the store of calls without store= (ml.home() says which)

The API is imported on first use, so `import mlplab` (and the CLI's start) stays cheap.
"""
__version__ = "0.1.0"

import os as _os

# Keras picks its backend at import: make it JAX even if the user imports keras after mlplab.
_os.environ.setdefault("KERAS_BACKEND", "jax")

_API = ("load_dataset", "run", "sweep", "fit", "runs", "sweeps", "load_run", "load_sweep", "set_home", "home",
        "help", "Run", "Sweep", "Findings")

__all__ = [*_API, "Classifier"]


def __getattr__(name: str):
    if name in _API:
        from . import api
        return getattr(api, name)
    if name == "Classifier":
        from .sklearn import Classifier
        return Classifier
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])

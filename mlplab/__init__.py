"""mlplab: train and study neural-network classifiers on MNIST-family data."""
__version__ = "0.1.0"

import os as _os

# Keras picks its backend at import: make it JAX even if the user imports keras after mlplab.
_os.environ.setdefault("KERAS_BACKEND", "jax")

"""Make sure Keras runs on JAX before anything imports it."""
import os

from .errors import MlplabError

_wanted = os.environ.setdefault("KERAS_BACKEND", "jax")
if _wanted != "jax":
    raise MlplabError(
        f"KERAS_BACKEND={_wanted!r}: mlplab trains with the JAX backend only; "
        "unset KERAS_BACKEND or set it to 'jax'"
    )
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

if keras.backend.backend() != "jax":
    raise MlplabError(
        f"keras is already running on {keras.backend.backend()!r}: mlplab needs the JAX "
        "backend; import mlplab before keras or set KERAS_BACKEND=jax"
    )

"""Make sure Keras runs on JAX before anything imports it."""
import os

from ..errors import MlplabError

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

import jax  # noqa: E402


def use_compilation_cache(path: str | None) -> None:
    """Keep compiled programs in the folder `path` (None: keep none) and look for them there
    before compiling. Programs that compile in under 0.1 s are not worth a file."""
    from jax.experimental.compilation_cache import compilation_cache
    compilation_cache.reset_cache()   # the next compilation opens the new folder
    compilation_cache.set_cache_dir(path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


# Compiling a program costs about a second; the persistent cache makes the next
# run of the same model (a re-run, the next sweep chunk, a repair, the test suite) skip it.
_cache = os.environ.get("MLPLAB_JAX_CACHE", os.path.join(
    os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "mlplab", "jax"))
if _cache and _cache != "0" and not jax.config.jax_compilation_cache_dir:
    use_compilation_cache(_cache)

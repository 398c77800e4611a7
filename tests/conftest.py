"""Shared test setup."""
import os

# Keras picks its backend at first import; a test module that imports keras before mlplab
# must still get JAX (mlplab refuses any other backend).
os.environ.setdefault("KERAS_BACKEND", "jax")

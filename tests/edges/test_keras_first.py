"""A user's first cell: `import keras` before `import mlplab` works in this environment (the installed
mlplab-keras-backend.pth sets KERAS_BACKEND=jax when it is unset), and a notebook's training cell shows the
Keras model summary once."""
import os
import subprocess
import sys

import pytest

from conftest import SAFETY_NET

pytestmark = pytest.mark.slow   # every test here spawns a process

MODEL = ("keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation='relu'), "
         "keras.layers.Dense(10, activation='softmax')])")
TINY_FIT = "ml.fit(" + MODEL + ", 'digits', epochs=1, store={store!r})"


def user_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}   # as a user's shell starts


def test_import_keras_first_then_mlplab_trains(tmp_path):
    code = "import keras; import mlplab as ml; run = " + TINY_FIT.format(store=str(tmp_path)) + \
           "; print(keras.backend.backend(), run.status)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=user_env(),
                          timeout=SAFETY_NET)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["jax", "ok"]


def test_a_backend_the_user_chose_is_left_alone():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.environ['KERAS_BACKEND'])"],
                          capture_output=True, text=True, env={**user_env(), "KERAS_BACKEND": "torch"}, timeout=SAFETY_NET)
    assert done.stdout.strip() == "torch"


def test_a_notebook_starting_with_import_keras_shows_the_summary_once(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import keras"),
                                         nbformat.v4.new_code_cell("import mlplab as ml"),
                                         nbformat.v4.new_code_cell(   # the user's own summary, then training
                                             f"model = {MODEL}\nmodel.summary()\n"
                                             f"ml.fit(model, 'digits', epochs=1, store={str(tmp_path / 'runs')!r})")])
    nbclient.NotebookClient(nb, timeout=SAFETY_NET, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute(env=user_env())
    outputs = [str(o) for o in nb.cells[2].outputs]
    assert not [o for o in outputs if "'error'" in o]
    assert sum("Total params" in o for o in outputs) == 1, outputs   # the user's; mlplab's text stays inside

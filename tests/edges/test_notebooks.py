"""The example notebooks run end to end, so they never rot.

They run two at a time (each in a kernel of its own, its own store and folder), the first time one of
these tests asks for them: a kernel spends most of its time starting and importing on one core.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import SAFETY_NET

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "examples" / "notebooks").glob("*.ipynb"))
AT_ONCE = 2


def execute(path: Path, folder: Path):
    """The notebook after running it in `folder` with its own store: (cells, None) or (None, the error)."""
    nb = nbformat.read(path, as_version=4)
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}   # the kernel starts as a user's does
    client = nbclient.NotebookClient(nb, timeout=SAFETY_NET, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    try:
        client.execute(env={**env, "MLPLAB_HOME": str(folder / "store")})
    except Exception as e:   # reported by the notebook's own test
        return None, e
    return nb, None


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebooks")
    with ThreadPoolExecutor(AT_ONCE) as pool:
        done = {p: pool.submit(execute, p, root / p.stem) for p in NOTEBOOKS}
        return {p: f.result() for p, f in done.items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed):
    nb, error = executed[path]
    assert error is None, f"{path.name}: {error}"
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "figures show inline"
    # progress is one display that updates in place, not one output per epoch
    assert len([o for o in outputs if "progress" in str(o.get("data", {}).get("text/html", ""))]) <= 3

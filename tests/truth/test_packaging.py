"""The package as users get it: a wheel built from the sources and installed in a fresh environment has its
recipes (package data) and runs as `python -m mlplab`."""
import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAFETY_NET

ROOT = Path(__file__).resolve().parents[2]


def test_python_dash_m_mlplab_is_the_command(monkeypatch, capsys):
    import gc
    import runpy
    monkeypatch.setattr(sys, "argv", ["mlplab", "recipes", "--json"])
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_module("mlplab", run_name="__main__")
    finally:
        gc.unfreeze()   # the command freezes what is left before it exits; this process goes on
    assert done.value.code == 0
    assert {r["name"] for r in json.loads(capsys.readouterr().out)} == {
        p.stem for p in (ROOT / "mlplab" / "recipes").glob("*.toml")}


def test_the_wheel_declares_the_recipes_as_package_data():
    import tomllib
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mlplab"]
    recipes = {p.relative_to(ROOT / "mlplab").as_posix() for p in (ROOT / "mlplab" / "recipes").rglob("*.toml")}
    assert recipes and all(any(Path(r).match(pattern) for pattern in data) for r in recipes), (recipes, data)


@pytest.mark.slow
def test_an_installed_wheel_lists_and_loads_its_recipes(tmp_path):
    src = tmp_path / "src"   # a copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "mlplab", src / "mlplab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=SAFETY_NET)
    [wheel] = (tmp_path / "dist").glob("mlplab-*.whl")

    env = tmp_path / "env"   # a fresh environment whose dependencies come from this one's site
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=SAFETY_NET)
    python = env / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=SAFETY_NET)
    [env_site] = env.glob("lib/python*/site-packages")
    # plain paths (their .pth files, this checkout's editable install among them, are not read)
    (env_site / "shared-site.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    def run(*args: str) -> str:
        done = subprocess.run([str(python), *args], cwd=tmp_path, capture_output=True, text=True, timeout=SAFETY_NET)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert Path(run("-c", "import mlplab; print(mlplab.__file__)").strip()).is_relative_to(env_site)
    listed = json.loads(run("-m", "mlplab", "recipes", "--json"))
    names = sorted(r["name"] for r in listed)
    assert all(Path(r["path"]).is_relative_to(env_site) for r in listed)
    assert names == sorted(p.stem for p in (ROOT / "mlplab" / "recipes").glob("*.toml"))
    assert run("-c", "from mlplab.spec import load_spec; print(load_spec('recipe:fashion-mlp').name)").strip() \
        == "recipe-fashion-mlp"

"""Every `mlplab ...` command of the README's CLI tour and dashboard sections works (training commands
run one epoch here; the Ray section runs in tests/edges/test_ray.py, `mlplab serve` in the dashboard tests)."""
import contextlib
import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.store import Store

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_HERE = ("serve",)  # blocks until Ctrl-C: the dashboard tests start it


def readme_commands() -> list[list[str]]:
    text = README.read_text()
    sections = [text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0] for title in ("A tour of the CLI", "The dashboard")]
    blocks = [b for section in sections for b in re.findall(r"```sh\n(.*?)```", section, re.S)]
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("mlplab ")]


def test_the_readme_shows_the_cli_tour():
    commands = readme_commands()
    assert len(commands) >= 15 and ["run"] in commands and ["sweep", "examples/relu-vs-sigmoid-adam-vs-sgd.toml"] in commands


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path, monkeypatch):
    from PIL import Image
    monkeypatch.chdir(tmp_path)  # the commands write curves.png, coats.png, ... here
    (tmp_path / "examples").symlink_to(README.parent / "examples")
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a 1
    Image.fromarray(digit).save(tmp_path / "my-digit.png")
    home = tmp_path / "home"
    for args in readme_commands():
        if args[0] in NOT_HERE:
            continue
        if args[0] in ("run", "sweep"):
            args = [*args, "--set", "train.epochs=1"]
        if "RUN" in args:
            ids = [r["id"] for r in Store(home).list_runs(limit=2)]
            args = [ids.pop() if a == "RUN" else a for a in args]
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["--home", str(home), *args])
        assert code == 0, args
    assert (tmp_path / "curves.png").is_file() and (tmp_path / "row.png").is_file()
    # the tour's `doctor last --fix` repairs its faulty run: candidates trained and judged, the answer better
    from mlplab.stored.repair_report import load_report
    [report] = [load_report(Store(home), p.parent.name) for p in (home / "artifacts").glob("*/repair.json")]
    assert report.problems and report.candidates and report.best is not None
    assert report.best.val_accuracy > report.val_accuracy

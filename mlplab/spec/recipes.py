"""Recipes: spec files in mlplab/recipes/ that beat published baselines on a laptop CPU (package data:
an installed wheel has them).

    mlplab recipes                    # each with its target, measured accuracy and time
    mlplab run recipe:fashion-mlp     # `recipe:NAME` stands for mlplab/recipes/NAME.toml

A recipe says what it is in its first comment lines, `# key: text`, read here:
recipe (what the model is), target (the accuracy to beat and whose), measured
(mean and spread over seeds, wall time on the machine it was measured on) and
search (a sweep around its settings, beside it in mlplab/recipes/search/).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput

FOLDER = Path(__file__).resolve().parents[1] / "recipes"
PREFIX = "recipe:"
FIELDS = ("recipe", "target", "measured", "search")


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    recipe: str = ""
    target: str = ""
    measured: str = ""
    search: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), **{k: getattr(self, k) for k in FIELDS}}


def names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.toml")) if FOLDER.is_dir() else []


def recipe_path(ref: str) -> Path:
    """The file of `recipe:NAME` (or NAME), or BadInput naming the recipes there are."""
    name = ref.removeprefix(PREFIX)
    known = names()
    if name not in known:   # a name of the folder's files, never a path: recipe:../x stays inside
        from .messages import did_you_mean
        raise BadInput(f"recipe {name!r}: no such recipe; {did_you_mean(name, known)}expected one of "
                       + (", ".join(known) or f"none (no folder {FOLDER})"))
    return FOLDER / f"{name}.toml"


def header(path: Path) -> dict[str, str]:
    """The `# key: text` lines at the top of a recipe (a key's lines joined)."""
    fields: dict[str, str] = {}
    key = None
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        head, _, rest = text.partition(":")
        if head in FIELDS:
            key, fields[head] = head, rest.strip()
        elif key and text:
            fields[key] += " " + text
    return fields


def recipes() -> list[Recipe]:
    return [Recipe(name, FOLDER / f"{name}.toml", **header(FOLDER / f"{name}.toml")) for name in names()]

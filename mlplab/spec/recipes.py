"""Recipes: spec files in examples/recipes/ that beat published baselines on a laptop CPU.

    mlplab recipes                    # each with its target, measured accuracy and time
    mlplab run recipe:fashion-mlp     # `recipe:NAME` stands for examples/recipes/NAME.toml

A recipe says what it is in its first comment lines, `# key: text`, read here:
recipe (what the model is), target (the accuracy to beat and whose), measured
(mean and spread over seeds, wall time on the machine it was measured on) and
search (a sweep around its settings, beside it in examples/recipes/search/).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "recipes"
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
    path = FOLDER / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(names()) or f"none (no folder {FOLDER})"
        raise BadInput(f"recipe {name!r}: no such recipe; expected one of {known}")
    return path


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

"""ml.help(NAME): what an optimizer takes (the notebook's `SGD?`), as `mlplab optimizers NAME` prints it."""
from __future__ import annotations

import html


class Help:
    """An optimizer's parameters: `rows` (parameter, default, description), printed as text, a table in Jupyter."""

    def __init__(self, name: str):
        from ..spec.help import optimizer_help, optimizer_text
        self.rows, self.text = optimizer_help(name), optimizer_text(name)

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        head, *_ = self.text.splitlines()
        cells = "".join(f"<tr><td><code>{html.escape(r['parameter'])}</code></td><td>{html.escape(str(r['default']))}"
                        f"</td><td>{html.escape(r['description'])}</td></tr>" for r in self.rows)
        return (f"<p>{html.escape(head)}</p><table><tr><th>parameter</th><th>default</th><th>what it does</th></tr>"
                f"{cells}</table>")


def help(name: str) -> Help:  # noqa: A001 (ml.help, as the notebook's `SGD?`)
    """Each parameter of the optimizer `name` (sgd, adam, adamw, rmsprop, adagrad), Keras' default and what it
    does: `ml.help("sgd")`. BadInput names the optimizers for any other name."""
    return Help(name)

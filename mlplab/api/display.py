"""How the API's figures show in a notebook: inline, as the value of a cell."""
from __future__ import annotations


def shown(fig):
    """A matplotlib Figure that shows inline in Jupyter when it is a cell's value (mlplab's figures
    are not pyplot figures, so no backend displays them on its own)."""
    def png() -> bytes:
        import io
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        return buf.getvalue()
    fig._repr_png_ = png
    return fig

"""matplotlib figures, loaded lazily and drawn by their own Agg canvas, turned into PNG bytes.

matplotlib is imported only when a picture is drawn, never by ``import vaekit`` or ``vaekit --help``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

#: Resolution of every figure; a figure of (w, h) inches is (w*DPI, h*DPI) pixels.
DPI = 100


def new_figure(width: float, height: float, **kwargs: Any) -> Any:
    """Return an empty ``Figure`` of ``width`` x ``height`` inches with a constrained layout.

    The figure is not registered with pyplot, so it is freed when dropped (no ``plt.close``),
    and pyplot's backend, which a notebook or GUI session chose, is left as it is: the PNG is
    drawn by an Agg canvas of its own (:func:`figure_png`)."""
    from matplotlib.figure import Figure

    # Whole pixels, so the PNG is exactly figsize * DPI (matplotlib would truncate a fraction).
    size = (round(width * DPI) / DPI, round(height * DPI) / DPI)
    return Figure(figsize=size, dpi=DPI, layout="constrained", **kwargs)


def figure_png(fig: Any) -> bytes:
    """Return the figure as PNG bytes of exactly ``figsize * DPI`` pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def picture_png(picture: Any) -> bytes:
    """Return PNG bytes for a picture: a matplotlib ``Figure`` or a uint8 image array."""
    if isinstance(picture, np.ndarray):
        from vaekit.viz.grid import png_bytes

        return png_bytes(picture)
    return figure_png(picture)


def show_grid(ax: Any, picture: np.ndarray) -> None:
    """Draw a uint8 grid (grey ``[H, W]`` or RGB ``[H, W, 3]``) on ``ax`` without axes ticks."""
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)

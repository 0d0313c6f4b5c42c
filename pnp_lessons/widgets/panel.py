"""Image panel: observation | (pinned A) | current iterate | ground truth | error map, in an even grid.

Each slot is an :class:`ipywidgets.Image` fed with PNG bytes (the browser swaps the picture in
place, no flicker) and a caption under it. The caption (iteration, PSNR, parameters) is also
the image's text alternative: it is set as the image's ``tooltip`` (the ``title`` attribute,
which assistive technologies read when there is no ``alt``).
"""

from __future__ import annotations

import html

import ipywidgets as W
import torch
import traitlets

from ..figures import ERROR_SCALE_CSS, ERROR_VMAX, error_caption, error_map, error_scale_html
from ..images import to_png_bytes

__all__ = ["ImageSlot", "ImagePanel", "ImageGrid", "AltImage", "STYLE", "SLOT_CSS"]

SLOT_CSS = """
.pnp-img img, img.pnp-img { image-rendering: pixelated; border: 1px solid #ccc; background: #fafafa; }
.pnp-slot-title { font-weight: 600; margin: 0 0 2px 0; }
""" + ERROR_SCALE_CSS
"""CSS of an :class:`ImageSlot` (its picture, title and error scale), for every stylesheet that shows slots."""

STYLE = "<style>" + SLOT_CSS + """
.pnp-caption { font-size: 12px; line-height: 1.3; color: #333; min-height: 3.9em; }
.pnp-grid-wide { --pnp-cols: 2; }
@media (min-width: 1700px) { .pnp-grid-wide { --pnp-cols: 4; } }
.pnp-message { padding: 4px 8px; border-radius: 4px; }
.pnp-message.pnp-warn { background: #fff4e5; border: 1px solid #f0a020; }
.pnp-message.pnp-info { background: #eef6ff; border: 1px solid #8bb8e8; }
.pnp-busy { font-weight: 600; }
.pnp-field-msg { color: #a33; font-size: 12px; min-height: 0; }
.pnp-field-info { color: #555; font-size: 11px; min-height: 0; max-width: 420px; }
</style>"""
"""CSS shared by the live widgets (display it once, e.g. inside the playground)."""


class AltImage(W.Image):
    """An :class:`ipywidgets.Image` whose ``tooltip`` works as its text alternative.

    The front end's ``DOMWidgetView.updateTooltip`` reads ``description.length``, which plain
    ``Image`` models lack (ipywidgets 8.1): a tooltip on a plain Image fails to render ("Could not
    create a view"). Syncing an empty ``description`` fixes it; the tooltip then becomes the
    ``title`` attribute of the ``<img>``.
    """

    description = traitlets.Unicode("").tag(sync=True)


class ImageSlot(W.VBox):
    """A titled image with a caption under it, as wide as the image, that doubles as its text alternative.

    ``px`` is the picture's side in CSS pixels on its own; in an :class:`ImageGrid` the grid sizes it. Pictures are
    scaled by the browser, nearest-neighbour (``image-rendering: pixelated``).
    """

    def __init__(self, title: str, px: int = 240, name: str = ""):
        self.name = name
        side = f"{px}px"
        self.title = W.HTML(f"<div class='pnp-slot-title'>{html.escape(title)}</div>")
        self.image = AltImage(format="png", layout=W.Layout(width=side, height=side, object_fit="contain"))
        self.image.add_class("pnp-img")
        if name:
            self.image.add_class(f"pnp-img-{name}")
        self.caption = W.HTML("<div class='pnp-caption'></div>", layout=W.Layout(width=side))
        if name:
            self.caption.add_class(f"pnp-caption-{name}")
        self.caption_text = ""
        parts = [self.title, self.image, self.caption]
        if name == "error":          # the colour bar under the map (a title that wraps would misalign the row)
            parts.insert(2, W.HTML(error_scale_html()))
        super().__init__(parts, layout=W.Layout(margin="0 8px 0 0"))

    def show(self, x: torch.Tensor | bytes | None, caption: str = ""):
        """Set the picture (tensor or PNG bytes; None clears it) and the caption."""
        if x is not None:
            self.image.value = x if isinstance(x, (bytes, bytearray)) else to_png_bytes(x)
        elif self.image.value:
            self.image.value = b""
        self.set_caption(caption)

    def show_error(self, x: torch.Tensor, ref: torch.Tensor, what: str, vmax: float = ERROR_VMAX):
        """Show ``|x − ref|`` per pixel in magma on the fixed scale [0, ``vmax``]
        (:func:`~pnp_lessons.figures.error_map`), captioned with ``what`` it is (e.g. "xₖ at k = 40") and its
        mean and maximum."""
        emap, mae, mx = error_map(x, ref, vmax)
        self.show(emap, error_caption(what, mae, mx, vmax))

    def set_caption(self, caption: str):
        if caption != self.caption_text:
            self.caption_text = caption
            self.caption.value = f"<div class='pnp-caption'>{html.escape(caption)}</div>"
            self.image.tooltip = caption or None

    @property
    def visible(self) -> bool:
        return self.layout.display != "none"

    @visible.setter
    def visible(self, value: bool):
        self.layout.display = None if value else "none"


class ImageGrid(W.GridBox):
    """Image slots in equal columns, row after row: ``columns`` of them, or ``"wide"`` for two columns that become
    four on a window at least 1700 pixels wide (the playground, whose controls take the left of the page).

    Each column is ``px`` CSS pixels wide at most and shrinks with the space the grid has (a narrow window, or
    JupyterLab with its side panel open); pictures and captions take their column's width."""

    def __init__(self, slots, columns: int | str, px: int = 256):
        slots = list(slots)
        for slot in slots:
            slot.layout.min_width = "0"
            slot.layout.margin = "0"
            slot.image.layout.width, slot.image.layout.height = "100%", "auto"
            slot.caption.layout.width = "100%"
        cols = "var(--pnp-cols, 2)" if columns == "wide" else str(int(columns))
        super().__init__(slots, layout=W.Layout(grid_template_columns=f"repeat({cols}, minmax(0, {px}px))",
                                                grid_gap="6px 16px", align_items="flex-start"))
        self.add_class("pnp-grid")
        if columns == "wide":
            self.add_class("pnp-grid-wide")


class ImagePanel(ImageGrid):
    """Observation, pinned result A (hidden until pinned), current iterate B, ground truth and B's error map."""

    def __init__(self, px: int = 256):
        self.observation = ImageSlot("Observation y", px, "observation")
        self.pinned = ImageSlot("A: pinned result", px, "pinned")
        self.iterate = ImageSlot("Current iterate xₖ", px, "iterate")
        self.truth = ImageSlot("Ground truth x", px, "truth")
        self.error = ImageSlot("Error |B − x|", px, "error")
        self.pinned.visible = False
        super().__init__([self.observation, self.iterate, self.truth, self.error, self.pinned], "wide", px)

    def show_pinned(self, visible: bool):
        """Show A beside B (A, B first, then y and x) or hide it (y, B, x)."""
        self.pinned.visible = visible
        self.children = ([self.pinned, self.iterate, self.observation, self.truth, self.error] if visible
                         else [self.observation, self.iterate, self.truth, self.error])

    def slots(self) -> dict:
        return {"observation": self.observation, "pinned": self.pinned, "iterate": self.iterate,
                "truth": self.truth, "error": self.error}

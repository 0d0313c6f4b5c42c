"""Image panel: observation | (pinned A) | current iterate | ground truth | error map, side by side.

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

from ..images import to_png_bytes

__all__ = ["ImageSlot", "ImagePanel", "AltImage", "STYLE"]

STYLE = """<style>
.pnp-img img, img.pnp-img { image-rendering: pixelated; border: 1px solid #ccc; background: #fafafa; }
.pnp-slot-title { font-weight: 600; margin: 0 0 2px 0; }
.pnp-caption { font-size: 12px; line-height: 1.3; color: #333; max-width: 250px; min-height: 3.9em; }
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
    """A titled image with a caption that doubles as its text alternative."""

    def __init__(self, title: str, px: int = 240, name: str = ""):
        self.name = name
        self.title = W.HTML(f"<div class='pnp-slot-title'>{html.escape(title)}</div>")
        self.image = AltImage(format="png", layout=W.Layout(width=f"{px}px", height=f"{px}px",
                                                           object_fit="contain"))
        self.image.add_class("pnp-img")
        if name:
            self.image.add_class(f"pnp-img-{name}")
        self.caption = W.HTML("<div class='pnp-caption'></div>")
        if name:
            self.caption.add_class(f"pnp-caption-{name}")
        self.caption_text = ""
        super().__init__([self.title, self.image, self.caption], layout=W.Layout(margin="0 8px 0 0"))

    def show(self, x: torch.Tensor | bytes | None, caption: str = ""):
        """Set the picture (tensor or PNG bytes; None clears it) and the caption."""
        if x is not None:
            self.image.value = x if isinstance(x, (bytes, bytearray)) else to_png_bytes(x)
        elif self.image.value:
            self.image.value = b""
        self.set_caption(caption)

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


class ImagePanel(W.HBox):
    """Observation, pinned result A (hidden until pinned), current iterate B, ground truth and B's error map."""

    def __init__(self, px: int = 240):
        self.observation = ImageSlot("Observation y", px, "observation")
        self.pinned = ImageSlot("A: pinned result", px, "pinned")
        self.iterate = ImageSlot("Current iterate xₖ", px, "iterate")
        self.truth = ImageSlot("Ground truth x", px, "truth")
        self.error = ImageSlot("Error |B − x|", px, "error")
        self.pinned.visible = False
        super().__init__([self.observation, self.iterate, self.truth, self.error],
                         layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))

    def show_pinned(self, visible: bool):
        """Show A beside B (A, B first, then y and x) or hide it (y, B, x)."""
        self.pinned.visible = visible
        self.children = ([self.pinned, self.iterate, self.observation, self.truth, self.error] if visible
                         else [self.observation, self.iterate, self.truth, self.error])

    def slots(self) -> dict:
        return {"observation": self.observation, "pinned": self.pinned, "iterate": self.iterate,
                "truth": self.truth, "error": self.error}

"""A live widget as it stood when the notebook was executed, drawn in plain HTML (no kernel, no widget front-end).

``NotebookClient(..., store_widget_state=True)`` keeps every widget model in the notebook's metadata, with the
PNG bytes of its images. :func:`widget_html` walks one view's model tree: boxes become ``div``\\ s, images ``img``
with their bytes inline, HTML widgets their HTML, and each control a read-only line naming its value
("γ (step size): 0.9"). Buttons, and the exact-value boxes that repeat a slider, are left out.
"""

from __future__ import annotations

import html

__all__ = ["widget_html", "widget_state"]

STATE_KEY = "application/vnd.jupyter.widget-state+json"
VIEW_KEY = "application/vnd.jupyter.widget-view+json"


def widget_state(nb) -> dict:
    """``model_id → model`` of an executed notebook (empty when no widget state was stored)."""
    return dict(nb.metadata.get("widgets", {}).get(STATE_KEY, {}).get("state", {}))


def _ref(value):
    return value[len("IPY_MODEL_"):] if isinstance(value, str) and value.startswith("IPY_MODEL_") else None


def _layout(model: dict, state: dict) -> dict:
    ref = _ref(model["state"].get("layout"))
    return state.get(ref, {}).get("state", {}) if ref else {}


def _css(layout: dict, keys=("width", "height", "max_width", "object_fit", "margin")) -> str:
    return ";".join(f"{k.replace('_', '-')}:{layout[k]}" for k in keys if layout.get(k))


def _value(model: dict):
    s = model["state"]
    labels = s.get("_options_labels")
    if labels is not None and s.get("index") is not None:
        return labels[s["index"]] if isinstance(s["index"], int) else ", ".join(labels[i] for i in s["index"])
    v = s.get("value")
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return " – ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)
    return v


def widget_html(model_id: str, state: dict, _depth: int = 0) -> str:
    """The view of ``model_id`` (and everything under it) as static HTML; ``state`` from :func:`widget_state`."""
    model = state.get(model_id)
    if model is None or _depth > 40:
        return ""
    name, s = model["model_name"], model["state"]
    if s.get("layout") and _layout(model, state).get("display") == "none":
        return ""
    classes = " ".join(html.escape(c) for c in s.get("_dom_classes", []))
    if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel"):
        inner = "".join(widget_html(_ref(c), state, _depth + 1) for c in s.get("children", []) if _ref(c))
        if name == "GridBoxModel":
            cols = _layout(model, state).get("grid_template_columns") or "none"
            style = f"display:grid;grid-template-columns:{cols};gap:6px 16px;align-items:start"
        elif name == "HBoxModel":
            style = "display:flex;flex-flow:row wrap;gap:4px 12px;align-items:flex-start"
        else:
            style = "display:flex;flex-direction:column;gap:4px"
        return f"<div class='pnp-static-box {classes}' style='{style}'>{inner}</div>"
    if name == "ImageModel":
        data = next((b["data"] for b in model.get("buffers", []) if b.get("path") == ["value"]), None)
        if not data:
            return ""
        fmt = html.escape(s.get("format", "png"))
        alt = html.escape(s.get("tooltip") or "", quote=True)
        style = _css(_layout(model, state))
        return (f"<img class='{classes}' src='data:image/{fmt};base64,{data}' alt='{alt}' "
                f"style='{html.escape(style, quote=True)};image-rendering:pixelated'>")
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div class='pnp-static-html {classes}'>{s.get('value', '')}</div>"
    if name == "LabelModel":
        return f"<div>{html.escape(str(s.get('value', '')))}</div>"
    if name == "OutputModel":
        parts = []
        for o in s.get("outputs", []):
            data = o.get("data", {})
            if "text/html" in data:
                parts.append(data["text/html"])
            elif "image/png" in data:
                parts.append(f"<img src='data:image/png;base64,{data['image/png']}' alt=''>")
            elif "text/plain" in data or o.get("text"):
                parts.append(f"<pre>{html.escape(data.get('text/plain', o.get('text', '')))}</pre>")
        return "".join(parts)
    if name == "CheckboxModel":
        mark = "☑" if s.get("value") else "☐"
        return f"<div class='pnp-static-control'>{mark} {html.escape(s.get('description', ''))}</div>"
    if name.endswith(("SliderModel", "DropdownModel", "ToggleButtonsModel", "RadioButtonsModel",
                      "SelectModel", "ProgressModel")):
        label = s.get("description") or ""
        value = _value(model)
        if label.startswith("<") or not label:      # a slider labelled by an HTML widget beside it
            return f"<span class='pnp-static-control'>{html.escape(str(value))}</span>"
        return (f"<div class='pnp-static-control'><span>{html.escape(label)}</span>: "
                f"<b>{html.escape(str(value))}</b></div>")
    return ""          # buttons, text boxes (a slider's exact-value box), file uploads: nothing to show

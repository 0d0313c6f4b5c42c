"""A student without a browser: the playground driven over the Jupyter widget protocol.

``benchmarks/load.py --client protocol`` uses this in place of Chromium. A classroom's browsers run on the students'
own computers; on this one machine, 30 Chromium pages took ~75 % of the CPU of a round (docs/benchmarks.md), so
a browser round measures the server *and* 30 browsers on two cores. This client asks the server for exactly what a
page asks for and no more, so a round measures what the server alone can serve:

1. ``GET /voila/render/<page>`` — Voilà executes the notebook (or hands over a preheated kernel) and sends the HTML,
   which names the page's kernel (``kernelId``); then the page's static files (``assets``: the ~100 scripts, styles
   and fonts a browser fetched for the same page, recorded once with a real browser by ``load.py``), so that the
   server serves as much per page as it does to a browser;
2. the kernel's websocket (``/api/kernels/<id>/channels``, Jupyter Server's JSON/binary framing), a
   ``kernel_info_request`` as JupyterLab's kernel connection sends, then the widget manager's
   ``jupyter.widget.control`` comm and its ``request_states`` (how ``@jupyter-widgets/base`` 8 loads a page's
   widgets from the kernel);
3. the ``_view_count`` update that ``DOMWidgetView`` sends once a view is displayed: the playground starts its first
   run on its first view (:class:`pnp_lessons.widgets.playground.Playground`, ``autostart='view'``);
4. a slider move is the ``update`` message that the γ slider's model sends on ArrowRight/ArrowLeft: the value one
   ``step`` up or down (on the exponent for a ``FloatLogSlider``), as noUiSlider's keyboard handling does.

A *frame* is an ``update`` of the iterate image's ``value`` (``pnp-img-iterate``): what sets the ``<img>``'s
``src`` in a browser. What it does not measure: the page's JavaScript, the widget views' layout and the image
decoding, which a student's own computer does (1.8–2.2 CPU-s per page load, measured on an idle machine).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import uuid

KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]+)"')
WIDGET_CONTROL = "jupyter.widget.control"
# JupyterLab's kernel websocket protocol. (Jupyter Server's older JSON framing, without a subprotocol, did not pass
# the kernel's binary ``update_states`` reply on to this client with Voilà 0.5.13: the kernel sent it, seen on
# its iopub socket, and nothing arrived; with v1 it does.)
PROTOCOL = "v1.kernel.websocket.jupyter.org"
CONTROL_VERSION = "1.0.0"   # ipywidgets 8's widget control protocol (ipywidgets.widgets.widget)


def encode(msg: dict, channel: str = "shell") -> bytes:
    """A message as a websocket frame of Jupyter Server's ``v1.kernel.websocket.jupyter.org`` protocol (what
    JupyterLab's kernel connection, and so Voilà's page, speaks): the number of offsets, the offsets (8-byte
    little-endian), then the channel, header, parent header, metadata, content and buffers."""
    parts = [channel.encode()] + [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata",
                                                                       "content")] + list(msg.get("buffers", []))
    offsets = [8 * (1 + len(parts) + 1)]
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    return b"".join([len(offsets).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in offsets), *parts])


def decode(frame: bytes) -> dict:
    """A v1 websocket frame (see :func:`encode`) as a message dict, its binary buffers under ``buffers``."""
    n = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(n)]
    parts = [frame[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]   # the last offset is the end
    msg = {"channel": parts[0].decode()}
    for k, p in zip(("header", "parent_header", "metadata", "content"), parts[1:5], strict=True):
        msg[k] = json.loads(p)
    msg["msg_type"] = msg["header"]["msg_type"]
    msg["buffers"] = parts[5:]
    return msg


class PageClient:
    """One page's kernel connection: the widget models' states, kept up to date, and the events a student waits for.

    Use :meth:`open` (the page and its first frame), then :meth:`move` for each slider move.
    """

    def __init__(self, url: str, page: str, query: str = "", assets: list[str] | None = None):
        self.url, self.page, self.query = url, page, query
        self.assets = assets or []               # the page's static files, as a browser loads them (see open)
        self.session = uuid.uuid4().hex
        self.models: dict[str, dict] = {}        # model id → {"name": model_name, "state": {...}}
        self.frames: list[float] = []            # monotonic times of the iterate image's updates
        self._changed = asyncio.Event()
        self._replies: dict[str, asyncio.Future] = {}
        self.ws = None
        self._reader = None
        self.image = self.slider = None          # model ids, once the page's widgets are known

    # ------------------------------------------------------------------ messages
    def _msg(self, msg_type: str, content: dict, metadata: dict | None = None) -> dict:
        return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": self.session,
                           "username": "student", "date": "", "version": "5.3"},
                "parent_header": {}, "metadata": metadata or {}, "content": content, "channel": "shell",
                "buffers": []}

    async def _send(self, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        msg = self._msg(msg_type, content, metadata)
        await self.ws.write_message(encode(msg), binary=True)
        return msg["header"]["msg_id"]

    async def _read(self):
        try:
            await self._read_messages()
        finally:
            self._changed.set()        # wake whoever waits: the connection ended (or a message did not decode)

    async def _read_messages(self):
        while True:
            frame = await self.ws.read_message()
            if frame is None:           # the server closed the connection
                return
            msg = decode(frame)
            parent = (msg.get("parent_header") or {}).get("msg_id")
            if parent in self._replies and msg["msg_type"].endswith("_reply"):
                self._replies.pop(parent).set_result(msg)
            if msg["msg_type"] == "comm_open" and msg["content"].get("target_name") == "jupyter.widget":
                data = msg["content"]["data"]
                self._apply(msg["content"]["comm_id"], data.get("state", {}), data.get("buffer_paths", []))
            elif msg["msg_type"] == "comm_msg":
                data = msg["content"]["data"]
                if data.get("method") == "update":
                    self._apply(msg["content"]["comm_id"], data.get("state", {}), data.get("buffer_paths", []))
                elif data.get("method") == "update_states":
                    for mid, s in data["states"].items():
                        self.models[mid] = {"name": s["model_name"], "state": dict(s["state"])}
                    self._changed.set()

    def _apply(self, model_id: str, state: dict, buffer_paths: list):
        m = self.models.setdefault(model_id, {"name": state.get("_model_name", ""), "state": {}})
        m["state"].update(state)          # binary values (the images' PNGs) are not kept: only their arrival counts
        if model_id == self.image and ("value" in state or ["value"] in buffer_paths):
            self.frames.append(time.monotonic())
        self._changed.set()

    async def _until(self, predicate, timeout: float):
        """Wait until ``predicate()`` holds (checked after every message); TimeoutError after ``timeout`` s."""
        async def wait():
            while not predicate():
                self._changed.clear()
                if self._reader.done():
                    if not self._reader.cancelled() and self._reader.exception() is not None:
                        raise ConnectionError("reading the kernel's websocket failed") from self._reader.exception()
                    raise ConnectionError("the kernel's websocket closed")
                await self._changed.wait()
        await asyncio.wait_for(wait(), timeout)

    # ------------------------------------------------------------------ models
    def find(self, dom_class: str) -> str:
        for mid, m in self.models.items():
            if dom_class in (m["state"].get("_dom_classes") or []):
                return mid
        raise LookupError(f"no widget with class {dom_class!r} on the page")

    def text(self) -> str:
        """Every HTML widget's value, as the page's text would contain it (markup left in)."""
        return "\n".join(str(m["state"].get("value", "")) for m in self.models.values() if m["name"] == "HTMLModel")

    def idle(self) -> bool:
        return any("pnp-busy" in str(m["state"].get("value", "")) and "idle" in str(m["state"].get("value", ""))
                   for m in self.models.values() if m["name"] == "HTMLModel")

    async def until_idle(self, timeout: float):
        """Wait until the page's status says idle (the run finished)."""
        await self._until(self.idle, timeout)

    async def update(self, model_id: str, state: dict):
        """What a widget view's ``save_changes`` sends: a comm_msg ``update`` of some keys."""
        await self._send("comm_msg", {"comm_id": model_id,
                                      "data": {"method": "update", "state": state, "buffer_paths": []}})
        self.models[model_id]["state"].update(state)

    # ------------------------------------------------------------------ a student's steps
    async def open(self, timeout: float) -> float:
        """Load the page, connect as its widget manager, display it; seconds until the first frame."""
        from tornado.httpclient import AsyncHTTPClient
        from tornado.websocket import websocket_connect

        t0 = time.monotonic()
        deadline = t0 + timeout
        # a client of its own: tornado's shared one queues all but 10 requests (a student's browser waits for nobody)
        http = AsyncHTTPClient(force_instance=True)
        try:
            r = await http.fetch(f"{self.url}/voila/render/{self.page}{self.query}", request_timeout=timeout)
        finally:
            http.close()
        m = KERNEL_ID.search(r.body.decode("utf8", "replace"))
        if not m:
            raise RuntimeError("the page names no kernel (kernelId)")
        await self._load_assets(deadline)
        ws_url = self.url.replace("http", "ws", 1) + f"/api/kernels/{m.group(1)}/channels?session_id={self.session}"
        self.ws = await websocket_connect(ws_url, subprotocols=[PROTOCOL], max_message_size=64 * 2**20)
        if self.ws.selected_subprotocol != PROTOCOL:
            raise RuntimeError(f"the server does not speak {PROTOCOL}")
        self._reader = asyncio.ensure_future(self._read())
        info = asyncio.get_running_loop().create_future()
        self._replies[await self._send("kernel_info_request", {})] = info
        await asyncio.wait_for(info, max(1.0, deadline - time.monotonic()))
        control = uuid.uuid4().hex
        await self._send("comm_open", {"comm_id": control, "target_name": WIDGET_CONTROL, "data": {}},
                         {"version": CONTROL_VERSION})
        await self._send("comm_msg", {"comm_id": control, "data": {"method": "request_states"}})
        await self._until(lambda: any(m["name"] == "ImageModel" for m in self.models.values()),
                          max(1.0, deadline - time.monotonic()))
        self.image = self.find("pnp-img-iterate")
        self.slider = self.find("pnp-slider-gamma")
        app = self.find("pnp-playground")
        seen = len(self.frames)
        await self.update(app, {"_view_count": (self.models[app]["state"].get("_view_count") or 0) + 1})
        await self._until(lambda: len(self.frames) > seen, max(1.0, deadline - time.monotonic()))
        return time.monotonic() - t0

    async def _load_assets(self, deadline: float, connections: int = 6):
        """Fetch the page's scripts, styles and fonts before connecting, ``connections`` at a time (a browser's
        limit per host over HTTP/1.1): the server's part of a page load that a browser asks for and this client
        does not need. A first visit has nothing cached."""
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient(force_instance=True, max_clients=connections)
        try:
            await asyncio.gather(*(http.fetch(self.url + a, request_timeout=max(1.0, deadline - time.monotonic()))
                                   for a in self.assets))
        finally:
            http.close()

    def next_value(self, up: bool) -> float:
        s = self.models[self.slider]["state"]
        sign = 1 if up else -1
        if self.models[self.slider]["name"] == "FloatLogSliderModel":
            e = round(math.log(s["value"], s["base"]) / s["step"]) * s["step"] + sign * s["step"]
            return round(s["base"] ** min(max(e, s["min"]), s["max"]), 12)
        v = round(s["value"] / s["step"]) * s["step"] + sign * s["step"]     # on the slider's grid, as noUiSlider
        return round(min(max(v, s["min"]), s["max"]), 12)

    async def move(self, up: bool, timeout: float) -> tuple[float, bool]:
        """One slider step; (seconds from the message to the first new frame, replayed?) once the run is idle."""
        seen = len(self.frames)
        t0 = time.monotonic()
        await self.update(self.slider, {"value": self.next_value(up)})
        await self._until(lambda: len(self.frames) > seen, timeout)
        latency = self.frames[seen] - t0
        await self.until_idle(timeout)
        return latency, "replayed:" in self.text()

    async def close(self):
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

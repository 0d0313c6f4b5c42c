"""The load harness's browser-free student (benchmarks/widget_client.py) against a real Voilà page.

``benchmarks/load.py --client protocol`` measures the class table of docs/benchmarks.md with it, so it must speak
what the page speaks: Jupyter Server's v1 websocket framing and ipywidgets' messages, and the playground must answer
it as it answers a browser (a first frame on its first view, a new frame for every γ step).
"""

import json
import sys

import pytest
from conftest import ROOT, run_async

sys.path.insert(0, str(ROOT / "benchmarks"))
import widget_client  # noqa: E402

sys.path.pop(0)

PAGE = "apps/playground.ipynb"


def test_frames_use_jupyter_servers_v1_websocket_framing():
    from jupyter_server.services.kernels.connection.base import (deserialize_msg_from_ws_v1,
                                                                  serialize_msg_to_ws_v1)

    msg = {"header": {"msg_id": "1", "msg_type": "comm_msg"}, "parent_header": {}, "metadata": {"version": "1"},
           "content": {"comm_id": "c", "data": {"method": "update"}}, "buffers": [b"", b"\x89PNG"]}
    channel, parts = deserialize_msg_from_ws_v1(widget_client.encode(msg, "shell"))
    assert channel == "shell"
    assert [json.loads(p) for p in parts[:4]] == [msg[k] for k in ("header", "parent_header", "metadata", "content")]
    assert parts[4:] == msg["buffers"]

    server = serialize_msg_to_ws_v1([json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata",
                                                                           "content")] + msg["buffers"], "iopub")
    got = widget_client.decode(server)
    assert got["channel"] == "iopub" and got["msg_type"] == "comm_msg"
    assert got["content"] == msg["content"] and got["buffers"] == msg["buffers"]


def test_a_student_without_a_browser_gets_a_first_frame_and_one_per_slider_step(voila_url):
    async def student():
        c = widget_client.PageClient(voila_url, PAGE)
        try:
            first = await c.open(180)
            await c.until_idle(180)
            gamma = c.models[c.slider]["state"]["value"]
            frames = len(c.frames)
            latency, _ = await c.move(True, 120)
            after = c.models[c.slider]["state"]["value"]
            return first, gamma, after, frames, len(c.frames), latency, c.text()
        finally:
            await c.close()

    first, gamma, after, before, frames, latency, text = run_async(student())
    assert first > 0 and before >= 1
    assert after == pytest.approx(gamma + 0.05)          # one step of the γ slider (step 0.05)
    assert frames > before and latency > 0
    assert f"gamma={after:.2f}" in text                  # the kernel took the move: its share link has the new γ
    assert "could not run" not in text and "Traceback" not in text

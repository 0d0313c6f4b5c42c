"""What a page visitor can reach on the Voilà server: widget messages yes, code execution and
files outside the lessons no. Talks to the server the way a hostile page script would (raw
HTTP and the kernel websocket), next to a positive control so that no check passes vacuously.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.browser


def _kernel_id(voila_url: str, page: str = "00_welcome.ipynb") -> str:
    html = urllib.request.urlopen(f"{voila_url}/voila/render/{page}", timeout=180).read().decode()
    m = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', html)
    assert m, "the rendered page names no kernel"
    return m.group(1)


def _msg(msg_type: str, content: dict, channel: str = "shell") -> str:
    return json.dumps({
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "visitor",
                   "session": uuid.uuid4().hex, "date": "2026-01-01T00:00:00Z", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []})


async def _exchange(ws_url: str, messages: list[str], listen: float) -> list[dict]:
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(ws_url)
    for m in messages:
        await conn.write_message(m)
    replies = []
    loop = asyncio.get_running_loop()
    end = loop.time() + listen
    while loop.time() < end:
        try:
            raw = await asyncio.wait_for(conn.read_message(), timeout=max(0.05, end - loop.time()))
        except TimeoutError:
            break
        if raw is None:
            break
        if isinstance(raw, str):
            replies.append(json.loads(raw))
    conn.close()
    return replies


def _in_thread(coro):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_the_page_kernel_answers_widget_messages_but_refuses_code(voila_url, tmp_path):
    kid = _kernel_id(voila_url)
    marker = tmp_path / "executed.txt"
    code = f"open({str(marker)!r}, 'w').write('the page ran code')"
    ws = voila_url.replace("http://", "ws://") + f"/api/kernels/{kid}/channels"
    # in a thread of its own: Playwright's sync API may hold an event loop in this one
    replies = _in_thread(_exchange(ws, [_msg("kernel_info_request", {}),
                                         _msg("execute_request", {"code": code, "silent": False,
                                                                  "store_history": False,
                                                                  "user_expressions": {}, "allow_stdin": False})],
                                    listen=6.0))
    types = [r.get("header", {}).get("msg_type") for r in replies]
    assert "kernel_info_reply" in types, f"positive control failed, the websocket answered {types}"
    assert "execute_reply" not in types and "execute_input" not in types, types
    assert not marker.exists(), "Voilà let the page execute code in the kernel"


@pytest.mark.parametrize("path", [
    "/api/contents",                                 # Jupyter's file API is not served
    "/api/contents/apps",
    "/voila/render/../pyproject.toml",
    "/voila/render/%2e%2e/pyproject.toml",
    "/voila/files/../pyproject.toml",
    "/voila/files/%2e%2e/data/weights/gsdrunet-small-grey.json",
    "/voila/tree/..",
    "/api/kernels/../../etc/passwd",
])
def test_no_path_outside_the_lessons_is_served(voila_url, path):
    try:
        r = urllib.request.urlopen(voila_url + path, timeout=30)
        body = r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        assert e.code in (400, 403, 404, 405), f"{path}: HTTP {e.code}"
        return
    assert "requires-python" not in body and "root:" not in body and "sha256" not in body, \
        f"{path} served a file from outside notebooks/"
    assert "pyproject" not in body.lower(), path


def test_the_app_never_takes_a_path_from_the_page():
    """Image settings are sample names or ``upload:<hash>`` keys of bytes already uploaded;
    a path (what a forged widget message could carry) is refused before any file is opened."""
    from pnp_lessons.problems import ProblemCache, SettingsError, default_settings, validate_settings

    for bad in ("/etc/passwd", "../pyproject.toml", "upload:../../etc/passwd", "file:///etc/passwd"):
        with pytest.raises(SettingsError):
            s = validate_settings(dict(default_settings(), image=bad))
            ProblemCache().image(s)

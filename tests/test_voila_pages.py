"""Real-browser checks: Voilà serves the pages and they render without error text."""

import pytest

from conftest import assert_no_error_text

pytestmark = pytest.mark.browser


def test_welcome_page_renders_with_device_line(voila_url, browser):
    page = browser.new_page()
    try:
        page.goto(f"{voila_url}/voila/render/00_welcome.ipynb", timeout=120_000)
        page.wait_for_selector("table.pnp-env", timeout=120_000)
        device = page.inner_text("td.pnp-env-device")
        assert device.startswith("CPU") or device.startswith("CUDA")
        text = page.inner_text("body")
        assert "PyTorch" in text and "01 · Inverse problems" in text
        assert_no_error_text(text)
        # Voilà hides the code cells
        assert "environment_report()" not in text
    finally:
        page.close()

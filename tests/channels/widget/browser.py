"""Headless Chromium for the widget's browser tests: Debian's `chromium`, driven by Playwright without any
browser download. A missing browser fails the tests with instructions; it never skips them."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "the widget's browser tests need Chromium: `apt-get install -y chromium` (.ci/run installs it), "
            "or point PARLEY_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    return path

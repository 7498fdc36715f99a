"""The built site in a real browser: every notebook page renders, shows its figures, shows no error;
the record's pages render with their tables.

``make test`` runs this after building the site from the notebooks the test suite executed
(``tools/site.py``). It needs Chromium (Debian and Ubuntu: ``apt-get install chromium``; Google
Chrome also works; or set ``SGAN_CHROMIUM`` to a browser's path), driven by Playwright, and reads
the pages over a local HTTP server, as a reader's browser would.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebooks import notebook_paths  # noqa: E402

HTML = Path(os.environ.get("SGAN_SITE_HTML", ROOT / "build" / "site" / "html"))
SOURCES = HTML.parent / "src"  # what tools/site.py staged: the executed notebooks
CHROMIUM = os.environ.get("SGAN_CHROMIUM") or next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
# A closed network: no background requests, no sandbox for root (as CI runs).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]
IMAGES = ("image/png", "image/jpeg", "image/svg+xml")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in the test output
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail(f"no site in {HTML}: build it first (python tools/site.py)")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        advice = "no Chromium found: install it (apt-get install chromium) or set SGAN_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(advice)  # CI must never skip the browser test
        pytest.skip(advice)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _open(browser, url: str):
    """A new page at ``url``, and the errors its own scripts raised (not those of other hosts)."""
    page = browser.new_page()
    errors: list[str] = []
    here = "/".join(url.split("/")[:3])  # this site's scheme and host: not other hosts' badges
    page.on("pageerror", lambda err: errors.append(str(err)))
    # a resource that fails is named by its response (the console's line has no address); the browser's
    # own favicon request is no resource of the page (it lands before or after load, by chance)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and msg.location.get("url", "").startswith(here)
            and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400
            and r.url.startswith(here) and not r.url.endswith("/favicon.ico") else None)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    return page, errors


def test_front_page_is_the_readme_and_links_every_notebook(site, browser):
    page, errors = _open(browser, f"{site}/index.html")
    title = (ROOT / "README.md").read_text().splitlines()[0].removeprefix("# ")
    assert page.locator("h1").first.inner_text().strip().rstrip("#").strip() == title
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    for path in notebook_paths():
        assert any(f"notebooks/{path.stem}.html" in link for link in links), f"no link to {path.stem}"
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_page_renders_with_its_figures_and_no_error(path, site, browser):
    executed = nbformat.read(SOURCES / "notebooks" / path.name, as_version=4)
    figures = sum(any(kind in out.get("data", {}) for kind in IMAGES)
                  for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs)
    page, errors = _open(browser, f"{site}/notebooks/{path.stem}.html")

    heading = executed.cells[0].source.splitlines()[0].removeprefix("# ").replace("`", "")
    assert page.locator("h1").first.inner_text().strip().rstrip("#").strip() == heading
    shown = page.eval_on_selector_all(
        ".cell_output img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
    assert len(shown) == figures, f"{len(shown)} figures on the page, {figures} in the notebook"
    assert all(shown), f"{shown.count(False)} of the page's figures did not load"
    text = page.locator("main").inner_text()
    assert page.locator(".cell_output .traceback, .cell_output .output.error").count() == 0
    assert "Traceback (most recent call last)" not in text
    if any("proof" in c.metadata.get("tags", []) for c in executed.cells):
        assert "All checks passed." in text, "the proof cell's output is not on the page"
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("page", ["docs/results", "docs/cli", "benchmarks/README", "CONTRIBUTING"])
def test_record_page_renders_with_its_tables(page, site, browser):
    """The record's pages are on the site too, their tables rendered, their links to notebooks alive."""
    source = (ROOT / f"{page}.md").read_text()
    rendered, errors = _open(browser, f"{site}/{page}.html")
    title = source.splitlines()[0].removeprefix("# ").replace("`", "")
    assert rendered.locator("h1").first.inner_text().strip().rstrip("#").strip() == title
    assert rendered.locator("main table").count() == len(re.findall(r"^\|[-:]", source, re.M))
    assert not errors, errors
    rendered.close()

"""The documentation site: every public name documented, and the built site checked in headless
Chromium (pages load without console errors, figures render, search finds pages).

Build the site first: ``python -m sphinx -W -b html docs docs/_build/html`` (``.ci/run`` does).
The browser test is skipped when the site, Chromium or Playwright is absent.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

import ital_opt

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SITE = DOCS / "_build" / "html"


def test_api_reference_covers_every_public_name():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. auto(?:function|class|exception):: ital_opt\.(\w+)", text, flags=re.M))
    missing = sorted(set(ital_opt.__all__) - documented)
    assert not missing, f"add these public names to docs/api.md: {missing}"


def test_every_page_is_in_a_toctree():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([\w/]+)$", index, flags=re.M))
    pages = {str(p.relative_to(DOCS).with_suffix("")) for p in DOCS.rglob("*.md")
             if "_build" not in p.parts and p.name != "index.md"}
    assert pages <= listed, f"pages missing from docs/index.md: {sorted(pages - listed)}"


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the browser asks for a favicon the site does not have
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").exists():
        pytest.skip("the site is not built (python -m sphinx -b html docs docs/_build/html)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    executable = _browser()
    if executable is None:
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the [docs] extra)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def _pages() -> list[str]:
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html")
                  if not {"_static", "_sources", "_modules"} & set(p.parts) and p.name != "genindex.html")


FIGURE_PAGES = ("tutorials/custom_menu.html", "tutorials/check_analytic.html", "tutorials/benchmark_formulations.html")


@pytest.mark.slow
def test_site_in_headless_chromium(site_url, browser):
    pages = _pages()
    assert {"index.html", "api.html", "ARCHITECTURE.html", *FIGURE_PAGES} <= set(pages)
    problems = []
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.on("response", lambda res: errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None)
    for name in pages:
        errors.clear()
        page.goto(f"{site_url}/{name}", wait_until="load")
        if name != "search.html" and not page.locator("h1").count():
            problems.append(f"{name}: no heading")
        images = page.eval_on_selector_all("article img", "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth])")
        broken = [src for src, width in images if not width]
        if broken:
            problems.append(f"{name}: images that did not render: {broken}")
        if name in FIGURE_PAGES and not images:
            problems.append(f"{name}: no figure")
        problems += [f"{name}: {e}" for e in errors]
    # search: the index is loaded by JavaScript and queried in the page
    page.goto(f"{site_url}/search.html?q=nucleolus", wait_until="load")
    page.wait_for_selector("ul.search li a", timeout=30_000)
    hits = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.getAttribute('href'))")
    if not any("theory/coalition" in h for h in hits):
        problems.append(f"search for 'nucleolus' did not find theory/coalition: {hits}")
    page.close()
    assert not problems, "\n".join(problems)


def test_theory_pages_cited_in_the_code_exist():
    """The code cites the theory pages as docs/theory/<page>.md; each must exist."""
    cited = {}
    for path in (ROOT / "ital_opt").rglob("*.py"):
        for page in re.findall(r"docs/theory/(\w+)\.md", path.read_text(encoding="utf-8")):
            cited.setdefault(page, str(path.relative_to(ROOT)))
    assert cited, "no theory page is cited"
    missing = {page: where for page, where in cited.items() if not (DOCS / "theory" / f"{page}.md").exists()}
    assert not missing, f"cited but missing: {missing}"

"""MLflow's own UI in headless Chromium, driven by Playwright: an experiment's trace list and a
trace's page, read as rendered text and screenshot, the way a person sees them.

    with MlflowUi(server.uri) as ui:
        rows = ui.trace_list(experiment_id, rows=7)  # trace id -> {"Input": ..., "Tokens": ...}
        page = ui.trace_page(experiment_id, trace_id)

The routes are MLflow 3.17's (``mlflow/server/js``): ``#/experiments/<id>/traces`` and the
trace drawer its rows link to, ``...traces?traceId=<trace id>``. Playwright drives the
Chromium installed on the machine (``OTEL_BRIDGE_TEST_CHROMIUM``, default /usr/bin/chromium);
``playwright install`` is never needed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .polling import wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

CHROMIUM_ENV = "OTEL_BRIDGE_TEST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Offline and quiet: no QUIC, no component or sync traffic, no first-run pages. Playwright adds
# --headless and a fresh profile (its own temporary user data dir) itself.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: Any = {"width": 1920, "height": 1080}
# Generous: the first page load compiles MLflow's ~10 MB bundle on a busy 2-core machine.
DEADLINE_MS = 90_000
# What MLflow's UI pops up on a first visit and would cover the page: its assistant panel and
# the "Detect issues" guidance (their localStorage keys, MLflow 3.17).
FIRST_VISIT_DISMISSED = {
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true",
    "mlflow.assistant.panelOpen_v1": "false",
    "mlflow.detectIssues.guidanceShown_v1": "true",
}


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM


def unavailable() -> str | None:
    """Why the UI cannot be driven here (None when it can): Playwright or Chromium missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install '.[ui]')"
    browser = chromium_path()
    if not (os.access(browser, os.X_OK) or shutil.which(browser)):
        return f"no Chromium at {CHROMIUM_ENV}={browser!r} (apt-get install chromium)"
    return None


class MlflowUi:
    """One headless Chromium on MLflow's UI at ``uri``; one page, reused."""

    def __init__(self, uri: str, *, deadline_ms: int = DEADLINE_MS) -> None:
        self.uri = uri.rstrip("/")
        self.deadline_ms = deadline_ms
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None

    def __enter__(self) -> MlflowUi:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
            )
            context = self._browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(self.deadline_ms)
            context.add_init_script(
                "".join(
                    f"localStorage.setItem({key!r}, {value!r});"
                    for key, value in FIRST_VISIT_DISMISSED.items()
                )
            )
            self._page = context.new_page()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    @property
    def page(self) -> Page:
        assert self._page is not None, "use MlflowUi as a context manager"
        return self._page

    # -- the trace list ------------------------------------------------------------------------
    def trace_list(self, experiment_id: str, rows: int) -> dict[str, dict[str, str]]:
        """The experiment's trace list once it shows ``rows`` traces: trace id -> column header
        -> the cell's text, as rendered."""
        page = self.page
        page.goto(f"{self.uri}/#/experiments/{experiment_id}/traces")
        selects = page.get_by_role("checkbox", name=re.compile(r"^Select trace tr-"))
        last_row = selects.nth(rows - 1)

        def shown() -> int:
            try:
                last_row.wait_for(timeout=15_000)
            except _timeout_error():
                page.reload()  # rendered before every trace was stored: ask the server again
            return selects.count()

        wait_for(
            f"{rows} rows in the trace list of experiment {experiment_id}",
            shown,
            lambda count: count >= rows,
            timeout=self.deadline_ms / 1000,
            interval=0,
        )
        headers = [h.inner_text().strip() for h in page.get_by_role("columnheader").all()]
        listed: dict[str, dict[str, str]] = {}
        for row in page.get_by_role("row").all():
            select = row.get_by_role("checkbox", name=re.compile(r"^Select trace tr-"))
            if not select.count():
                continue  # the header row
            trace_id = (select.get_attribute("aria-label") or "").removeprefix("Select trace ")
            cells = [c.inner_text().strip() for c in row.get_by_role("cell").all()]
            listed[trace_id] = dict(zip(headers, cells, strict=False))
        return listed

    # -- a trace's page ------------------------------------------------------------------------
    def trace_page(self, experiment_id: str, trace_id: str) -> Page:
        """The trace's page (the drawer the list's rows open), once its span tree and the root
        span's header are rendered."""
        page = self.page
        page.goto(f"{self.uri}/#/experiments/{experiment_id}/traces?traceId={trace_id}")
        return self.opened_trace()

    def opened_trace(self) -> Page:
        """The trace page just opened (by a URL or a click), once its span tree and the root
        span's header are rendered."""
        self._header().wait_for()
        self.page.get_by_role("tab", name="Inputs / Outputs").wait_for()
        return self.page

    def _header(self) -> Locator:
        return self.page.get_by_text(re.compile(r"^Trace$")).locator("xpath=..")

    def trace_header(self) -> str:
        """The trace's header line: ``Trace c794bb39 Success 196.00ms 34 tokens $0.00``."""
        return _words(self._header())

    def span_tree(self) -> list[tuple[str, str]]:
        """The span tree, top to bottom: each span's name and its metrics line
        (``9.23ms 55 $0.000001``: duration, tokens, cost)."""
        tree = []
        for title in self.page.locator("[data-testid^='span-title-row-']").all():
            span_id = (title.get_attribute("data-testid") or "").removeprefix("span-title-row-")
            metrics = self.page.locator(f"[data-testid='span-metric-row-{span_id}']")
            tree.append((_words(title), _words(metrics) if metrics.count() else ""))
        return tree

    def select_span(self, name: str | None = None, tab: str = "Inputs / Outputs") -> None:
        """Click span ``name`` in the span tree (the first of that name; the root when None),
        then its ``tab``."""
        titles = self.page.locator("[data-testid^='span-title-row-']")
        (titles.first if name is None else titles.filter(has_text=name).first).click()
        self.page.get_by_role("tab", name=tab).click()

    def span_pane(self) -> str:
        """The selected span's pane as text, whitespace collapsed: its name, model, tokens,
        cost, tags, the tabs and the open tab's content."""
        page = self.page
        pane = page.locator("div").filter(has=page.get_by_role("tablist")).filter(has_text="Assess")
        return _words(pane.last)

    def trace_tags(self) -> dict[str, str]:
        """The trace's tags as the root span's ``N tags`` popover lists them (the root span
        selected). Found by ``service.name``, which the bridge puts on every root."""
        self.page.get_by_text(re.compile(r"^\d+ tags?$")).first.click()
        key = self.page.get_by_text("service.name", exact=True).first
        key.wait_for()
        lines = key.locator("xpath=../..").inner_text().splitlines()
        return dict(zip(lines[::2], lines[1::2], strict=True))

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _timeout_error() -> type[Exception]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    return PlaywrightTimeout


def _words(locator: Locator) -> str:
    return " ".join(locator.inner_text().split())

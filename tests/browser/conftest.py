"""One headless Chromium serves every browser test of the session; each test gets a fresh page (its own
browser context: no cookie or storage leaks from one test to the next)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import Browser, Page, find_chromium


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Debian's chromium, headless, for the whole session; its process group ends with the session."""
    if find_chromium() is None:
        pytest.fail("the browser tests need chromium: `bash scripts/browser.sh` installs it (scripts/test.sh does)")
    started = Browser.start(workdir=tmp_path_factory.mktemp("chromium"))
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A blank tab in a new browser context, closed after the test."""
    with browser.page() as tab:
        yield tab

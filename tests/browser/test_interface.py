"""The chat page is the same in every profile (SPEC golden rule 1), proven in headless Chromium.

Both profiles run against one mock LLM whose answers depend only on the question, so a
finished answer renders the same text in both. The model and token counts under an
answer are per-request data and are masked before the screenshots are compared.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import matplotlib.image
import numpy as np
import pytest

from reference_server.app import create_app
from reference_server.auth import issue_token
from reference_server.settings import settings_for_profile
from tests.reference_server.upstream import ServerThread

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SECRET = "browser-test-secret"
QUESTION = "How do I reset my password?"
STATIC_FILES = ("/", "/static/chat.css", "/static/chat.js", "/static/transport.js")
#: Streams slowly enough (25 tokens/s) that incremental rendering is visible.
MOCK_CONFIG = {
    "tiers": {
        name: {"base_ms": 30, "prefill_ms_per_token": 0, "tokens_per_second": 25, "jitter_ms": 0}
        for name in ("small", "medium", "large")
    }
}
#: Anti-aliasing of rounded corners may differ by a level or two of 255 between two
#: renders of the same page; a real difference (text, layout, colour) is far larger.
RASTER_NOISE = 6 / 255
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Site:
    url: str
    profile: str

    @property
    def token(self) -> str:
        return issue_token(SECRET, "browser-user", "premium")


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def sites(start_mock_llm, tmp_path: Path) -> Iterator[dict[str, Site]]:
    mock = start_mock_llm(MOCK_CONFIG)
    threads: dict[str, ServerThread] = {}
    try:
        for profile in ("baseline", "optimized"):
            settings = settings_for_profile(
                profile,
                llm_base_url=mock.base_url,
                secret=SECRET,
                database_url=f"sqlite+aiosqlite:///{tmp_path}/{profile}.db",
            )
            thread = ServerThread(create_app(settings))
            thread.start()
            threads[profile] = thread
        yield {profile: Site(thread.url, profile) for profile, thread in threads.items()}
    finally:
        for thread in threads.values():
            thread.stop()


#: Two ways a WebSocket is blocked in the wild: the browser refuses to create it (a policy),
#: or a proxy without upgrade support closes it before it opens.
WEBSOCKET_BLOCKERS = {
    "refused": (
        "window.WebSocket = class { constructor() { throw new DOMException('blocked', 'SecurityError'); } };"
    ),
    "closed-by-proxy": """
        window.WebSocket = class extends EventTarget {
            constructor() {
                super();
                this.readyState = 0;
                setTimeout(() => {
                    this.readyState = 3;
                    const event = new Event('close');
                    event.code = 1006;
                    this.dispatchEvent(event);
                }, 20);
            }
            send() { throw new Error('not open'); }
            close() {}
        };
        window.WebSocket.OPEN = 1;
    """,
}


def _ask(browser, site: Site, question: str, *, block_websocket: str | None = None):
    """Open the page, paste the token, ask, and wait for the finished answer."""
    context = browser.new_context(viewport={"width": 1100, "height": 700}, device_scale_factor=1)
    page = context.new_page()
    if block_websocket:
        page.add_init_script(WEBSOCKET_BLOCKERS[block_websocket])
    page.goto(site.url + "/")
    page.fill("#token", site.token)
    page.dispatch_event("#token", "change")
    # Count how often the answer's text changes before it is final.
    page.evaluate(
        """() => {
            window.__answerUpdates = 0;
            new MutationObserver(() => {
                const answers = document.querySelectorAll('#messages li.assistant');
                const last = answers[answers.length - 1];
                if (last && !last.querySelector('.meta')) window.__answerUpdates += 1;
            }).observe(document.getElementById('messages'),
                       {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.fill("#input", question)
    page.press("#input", "Enter")
    page.wait_for_selector("#messages .meta", timeout=30_000)
    page.wait_for_load_state("networkidle")
    return context, page


def _masked_screenshot(page) -> bytes:
    page.evaluate(
        "() => document.querySelectorAll('.meta')"
        ".forEach((meta) => { meta.textContent = 'model · n tokens'; })"
    )
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    return page.screenshot(full_page=True, animations="disabled", caret="hide")


def test_static_files_are_the_same_bytes_in_every_profile(sites):
    digests = {
        profile: {
            path: hashlib.sha256(httpx.get(site.url + path).content).hexdigest() for path in STATIC_FILES
        }
        for profile, site in sites.items()
    }
    assert digests["baseline"] == digests["optimized"]


def test_finished_answer_looks_the_same_in_both_profiles(playwright_browser, sites, tmp_path):
    shots = {}
    texts = {}
    for profile, site in sites.items():
        context, page = _ask(playwright_browser, site, QUESTION)
        texts[profile] = page.inner_text("#messages li.assistant")
        shots[profile] = _masked_screenshot(page)
        (tmp_path / f"{profile}.png").write_bytes(shots[profile])
        context.close()
    assert texts["baseline"].split("\n")[0] == texts["optimized"].split("\n")[0]
    before, after = (
        matplotlib.image.imread(io.BytesIO(shots[p]), format="png") for p in ("baseline", "optimized")
    )
    assert before.shape == after.shape
    differing = int((np.abs(before - after).max(axis=2) > RASTER_NOISE).sum())
    assert differing == 0, f"{differing} pixels differ: see {tmp_path}"


def test_optimized_page_renders_tokens_incrementally(playwright_browser, sites):
    context, page = _ask(playwright_browser, sites["optimized"], QUESTION)
    streamed_updates = page.evaluate("() => window.__answerUpdates")
    context.close()
    context, page = _ask(playwright_browser, sites["baseline"], QUESTION)
    baseline_updates = page.evaluate("() => window.__answerUpdates")
    context.close()
    assert streamed_updates >= 5, streamed_updates
    assert baseline_updates <= 2, baseline_updates


@pytest.mark.parametrize("blocker", sorted(WEBSOCKET_BLOCKERS))
def test_page_falls_back_and_answers_when_websocket_is_blocked(playwright_browser, sites, blocker):
    context, page = _ask(playwright_browser, sites["optimized"], QUESTION, block_websocket=blocker)
    answer = page.inner_text("#messages li.assistant")
    updates = page.evaluate("() => window.__answerUpdates")
    context.close()
    assert len(answer) > 40
    assert updates >= 5, "the fallback transport still streams"

"""End to end in real headless Chromium against the real production server
(granian in a subprocess) over a real index: type a Thai query, see <mark>
highlights, click a language chip; screenshots go to artifacts/."""
import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "artifacts"
THAI = "การต่างประเทศ"
ARABIC = "الدبلوماسية"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server_url(web_index_dir, web_server):
    with web_server(web_index_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")   # only ever the system Chromium
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # CSP violations land here
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


def test_thai_search_highlights_and_language_chip(browser, server_url):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, problems = open_page(browser, viewport={"width": 1100, "height": 900}, locale="th-TH")
    page.goto(server_url + "/")
    page.keyboard.press("Tab")                                     # first stop: the skip link
    assert page.evaluate("document.activeElement.className") == "skip-link"

    page.fill("#q", THAI)
    page.press("#q", "Enter")
    page.wait_for_selector(".result mark")
    assert page.input_value("#q") == THAI                          # the box keeps the query
    marks = page.locator(".result .snippet mark")
    assert marks.count() >= 3
    assert THAI in marks.first.inner_text()
    assert page.locator(".result").count() >= 3

    chip = page.locator('a.chip[data-lang="th"]')
    chip.click()
    page.wait_for_selector('a.chip.active[data-lang="th"]')
    assert "lang=th" in page.url
    langs = page.locator(".result").evaluate_all("els => els.map(e => e.lang)")
    assert langs and set(langs) == {"th"}
    page.screenshot(path=str(ARTIFACTS / "browser-search.png"), full_page=True)

    page.locator(".result-title a").first.click()                 # through to the article page
    page.wait_for_selector("article.article h1")
    assert page.locator("article.article").get_attribute("lang") == "th"
    page.screenshot(path=str(ARTIFACTS / "browser-article.png"))
    assert problems == []
    context.close()


def test_arabic_and_mixed_scripts_at_phone_width(browser, server_url, multilingual_query):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, problems = open_page(browser, viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(f"{server_url}/?q={ARABIC}")
    arabic = page.locator('.result[lang="ar"]')
    arabic.first.wait_for()
    assert arabic.first.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator('.result[lang="ar"] .snippet mark').count() >= 1
    page.goto(f"{server_url}/?q={multilingual_query}")
    page.wait_for_selector(".result")
    assert len(set(page.locator(".result").evaluate_all("els => els.map(e => e.lang)"))) >= 2
    # nothing sticks out sideways on a phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "browser-phone.png"), full_page=True)
    assert problems == []
    context.close()

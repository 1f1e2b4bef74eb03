"""The web page in a real browser: Playwright driving Debian's Chromium (headless)
against a real `newswire serve` over the demo corpus.

NEWSWIRE_UPDATE_SCREENSHOTS=1 writes the README's screenshots to docs/ from this run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pipeline.demo.server import corpus
from tests.conftest import ROOT, need
from tests.integration.api_server import ApiServer

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need(Path(CHROMIUM).exists(), "chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def screenshot(page: object, name: str, tmp_path: Path) -> None:
    target = ROOT / "docs" if os.environ.get("NEWSWIRE_UPDATE_SCREENSHOTS") else tmp_path
    page.screenshot(path=str(target / name), full_page=False)  # type: ignore[attr-defined]
    assert (target / name).stat().st_size > 10_000


def total(api: ApiServer, **params: str) -> int:
    return int(httpx.get(f"{api.url}/api/search", params=params).json()["total"])


def test_search_then_click_an_entity_chip(api: ApiServer, page: object, tmp_path: Path) -> None:
    p: object = page
    p.goto(api.url)  # type: ignore[attr-defined]
    p.get_by_role("searchbox", name="Search stories").fill("harbor bridge")  # type: ignore[attr-defined]
    p.keyboard.press("Enter")  # type: ignore[attr-defined]
    p.wait_for_url("**/?q=harbor+bridge*")  # type: ignore[attr-defined]
    hits = p.locator("li.hit")  # type: ignore[attr-defined]
    assert hits.count() == total(api, q="harbor bridge") > 0
    assert p.locator("li.hit mark").count() > 0  # type: ignore[attr-defined]
    assert p.locator("figure.timeline rect").count() > 0  # type: ignore[attr-defined]
    screenshot(p, "screenshot-search.png", tmp_path)

    chip = hits.first.locator("a.chip").first
    name = chip.get_attribute("title").removeprefix("Only stories naming ")
    chip.click()
    p.wait_for_load_state()  # type: ignore[attr-defined]
    query = parse_qs(urlsplit(p.url).query)  # type: ignore[attr-defined]
    assert query["entity"] == [name] and query["q"] == ["harbor bridge"]
    assert p.locator("li.hit").count() == total(api, q="harbor bridge", entity=name)  # type: ignore[attr-defined]


def test_filter_by_stance_and_open_an_entity_page(
    api: ApiServer, page: object, tmp_path: Path
) -> None:
    p: object = page
    p.goto(api.url)  # type: ignore[attr-defined]
    p.get_by_label("Speaker").fill("Marcus Hale")  # type: ignore[attr-defined]
    p.get_by_label("Stance").select_option("against")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Search").click()  # type: ignore[attr-defined]
    p.wait_for_url("**stance=against*")  # type: ignore[attr-defined]
    expected = total(api, speaker="Marcus Hale", stance="against")
    assert expected > 0 and p.locator("li.hit").count() == expected  # type: ignore[attr-defined]
    assert p.locator("li.hit .badge.against").count() >= expected  # type: ignore[attr-defined]

    # (.first: the small model types him ORG in some stories, so he has two facet rows)
    p.get_by_role("link", name="Profile of Marcus Hale").first.click()  # type: ignore[attr-defined]
    p.wait_for_url("**/entity/Marcus%20Hale")  # type: ignore[attr-defined]
    assert p.get_by_role("heading", level=1).inner_text().startswith("Marcus Hale")  # type: ignore[attr-defined]
    assert p.get_by_role("heading", name="Stances held").is_visible()  # type: ignore[attr-defined]
    assert p.locator("section[aria-labelledby=held] .badge").count() > 0  # type: ignore[attr-defined]
    screenshot(p, "screenshot-entity.png", tmp_path)


def test_a_stance_target_in_the_sidebar_filters_on_click(api: ApiServer, page: object) -> None:
    p: object = page
    p.goto(api.url)  # type: ignore[attr-defined]
    section = p.locator("aside.facets section", has_text="Stance targets")  # type: ignore[attr-defined]
    entry = section.locator("li a").first
    label = entry.inner_text()  # "target (stance)"
    target, stance = label.rsplit(" (", 1)
    stance = stance.removesuffix(")")
    assert stance in ("favor", "against")
    entry.click()
    p.wait_for_url("**target=*")  # type: ignore[attr-defined]
    query = parse_qs(urlsplit(p.url).query)  # type: ignore[attr-defined]
    assert query["target"] == [target] and query["stance"] == [stance]
    expected = total(api, target=target, stance=stance)
    assert expected > 0 and p.locator("li.hit").count() == min(expected, 10)  # type: ignore[attr-defined]
    # each story shown holds that stance on that target, on one of its cards
    hits = p.locator("li.hit")  # type: ignore[attr-defined]
    for i in range(hits.count()):
        assert hits.nth(i).locator(f".quote .badge.{stance}").count() > 0
    assert p.get_by_label("Target").input_value() == target  # type: ignore[attr-defined]


def test_page_through_results(api: ApiServer, page: object) -> None:
    p: object = page
    p.goto(f"{api.url}/?sort=date&limit=7&collapse=false")  # type: ignore[attr-defined]
    seen: list[str] = []
    while True:
        seen += p.locator("li.hit h2 a").all_inner_texts()  # type: ignore[attr-defined]
        nxt = p.get_by_role("link", name="Next page →")  # type: ignore[attr-defined]
        if nxt.count() == 0:
            break
        nxt.click()
        p.wait_for_load_state()  # type: ignore[attr-defined]
    assert len(seen) == len(set(seen)) == total(api, collapse="false") == len(corpus()[1])


def test_keyboard_and_autocomplete(api: ApiServer, page: object) -> None:
    p: object = page
    p.goto(f"{api.url}/?q=tariff")  # type: ignore[attr-defined]
    p.keyboard.press("/")  # type: ignore[attr-defined]
    assert p.evaluate("document.activeElement.id") == "q"  # type: ignore[attr-defined]
    p.get_by_label("Entity").press_sequentially("lars", delay=50)  # type: ignore[attr-defined]
    options = p.locator("#entity-names option[value='Lars Eriksen']")  # type: ignore[attr-defined]
    options.wait_for(state="attached", timeout=5000)
    # The first chip is reachable with Tab and followed with Enter.
    chip = p.locator("a.chip").first  # type: ignore[attr-defined]
    chip.focus()
    p.keyboard.press("Enter")  # type: ignore[attr-defined]
    p.wait_for_url("**entity=*")  # type: ignore[attr-defined]


def test_basic_search_works_with_javascript_off(api: ApiServer, browser: object) -> None:
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    p = context.new_page()
    p.goto(api.url)
    p.get_by_role("searchbox", name="Search stories").fill("carbon tax")
    p.keyboard.press("Enter")
    p.wait_for_url("**q=carbon+tax*")
    assert p.locator("li.hit").count() == total(api, q="carbon tax") > 0
    context.close()


def test_feed_status_page(api: ApiServer, page: object) -> None:
    p: object = page
    p.goto(f"{api.url}/feeds")  # type: ignore[attr-defined]
    rows = p.locator("table.feeds tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 3
    assert rows.first.locator(".state").inner_text() == "ok"


def test_docs_screenshots_exist() -> None:
    for name in ("screenshot-search.png", "screenshot-entity.png"):
        assert (ROOT / "docs" / name).exists(), (
            f"docs/{name}: run with NEWSWIRE_UPDATE_SCREENSHOTS=1"
        )
    assert shutil.which("chromium") or Path(CHROMIUM).exists()

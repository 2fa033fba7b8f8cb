"""The web UI's safety and reach, in headless Chromium over a real server: the key prompt (a
wrong key, a key lacking a scope, the key only ever in the Authorization header), model- and
user-written HTML and `javascript:` links staying inert, no request leaving the server's
origin, and the page on a phone-sized screen, in dark mode, and with the keyboard alone."""

from __future__ import annotations

import httpx
import pytest

from tests.support.browser import (  # noqa: F401 - fixtures
    browser, last_answer, open_page, same_origin_only, screenshot, send, wait_idle)
from tests.support.fake_llm import Text
from tests.support.tools import agent_config, module_server

ROOT_KEY = "sk-root-web-ui-0123456789abcdef"
XSS_IMG = "<img src=x onerror=\"window.__pwned='img'\">"
XSS_LINK = "[click me](javascript:window.__pwned='link')"
XSS_SCRIPT = "<script>window.__pwned='script'</script>"


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    with module_server(tmp_path_factory, agent_config("helper", fake_llm_server.base_url)) as server:
        yield server


@pytest.fixture(scope="module")
def locked(tmp_path_factory, fake_llm_server):
    """A server that requires a key (the root key, and named keys with scopes)."""
    env = {"SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": ROOT_KEY}
    with module_server(tmp_path_factory, agent_config("helper", fake_llm_server.base_url), env=env) as server:
        yield server


def test_model_and_user_written_html_and_javascript_links_stay_inert(live, open_page, fake_llm):
    ui = open_page(viewport={"width": 1100, "height": 760})
    page = ui.open(live.url + "/")
    fake_llm.script(Text(f"Look: {XSS_IMG} and {XSS_LINK} and {XSS_SCRIPT} and "
                         "[a fine link](https://example.com/docs)", chunks=4))
    send(page, f"{XSS_IMG} {XSS_SCRIPT}")
    page.wait_for_selector(".msg.assistant .bubble:has-text('Look:')")
    wait_idle(page)
    answer = last_answer(page).locator(".bubble")
    # The markup is shown as text, not interpreted.
    assert "<img src=x onerror=" in answer.inner_text()
    assert "<img src=x onerror=" in page.inner_text(".msg.user")
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages script").count() == 0
    assert page.locator("#messages [onerror]").count() == 0
    link = answer.locator("a", has_text="click me")
    assert link.get_attribute("href") is None
    link.click()
    fine = answer.locator("a", has_text="a fine link")
    assert fine.get_attribute("href") == "https://example.com/docs"
    assert fine.get_attribute("rel") == "noopener noreferrer nofollow"
    # Reloaded from history, it is still inert.
    page.reload()
    page.wait_for_selector(".msg.assistant .bubble:has-text('Look:')")
    assert page.locator("#messages img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    # Found by the sidebar's full-text search, the excerpt shows the markup as text too.
    page.fill("#session-search", "onerror")
    page.wait_for_selector(".session-snippet mark")
    assert "<img src=x onerror=" in page.inner_text(".session-snippet")
    assert page.locator("#session-list img, #session-list [onerror], #session-list script").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert same_origin_only(ui.requests, live.url) == []   # nothing left the server's origin
    assert not any(r.url.endswith("/x") for r in ui.requests)
    assert ui.errors == []
    screenshot(page, "xss-inert")


def test_the_pages_policy_forbids_inline_script_and_other_origins(live, open_page):
    ui = open_page()
    response = ui.page.goto(live.url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    ui.page.wait_for_selector("body.ready")
    # An inline script injected into the live page is refused by the browser.
    ui.page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = "window.__inline = 1"; document.body.append(s); }""")
    assert ui.page.evaluate("() => window.__inline === undefined")


def test_a_server_that_needs_a_key_asks_for_it_and_says_when_it_is_wrong_or_lacks_a_scope(locked, open_page, fake_llm):
    ui = open_page(viewport={"width": 1100, "height": 760})
    page = ui.page
    page.goto(locked.url + "/")
    page.wait_for_selector("#auth-dialog[open]")
    assert "needs an API key" in page.inner_text("#auth-reason")
    screenshot(page, "auth-prompt")

    page.fill("#auth-key", "sk-not-the-right-key-123456")
    page.click("#auth-form button[type=submit]")
    page.wait_for_selector("#auth-reason:has-text('not accepted')")
    assert page.is_visible("#auth-dialog")

    page.fill("#auth-key", ROOT_KEY)
    page.click("#auth-form button[type=submit]")
    page.wait_for_selector("body.ready")
    assert not page.is_visible("#auth-dialog")
    send(page, "hello with a key")
    page.wait_for_selector(".bubble:has-text('fake reply to: hello with a key')")
    wait_idle(page)
    # The key stays in this tab (not remembered) and is never in a URL.
    assert page.evaluate("() => sessionStorage.getItem('switchyard.apiKey')") == ROOT_KEY
    assert page.evaluate("() => localStorage.getItem('switchyard.apiKey')") is None

    # A read-only key: reading works, sending says which scope is missing.
    with httpx.Client(base_url=locked.url, headers={"Authorization": f"Bearer {ROOT_KEY}"}) as admin:
        created = admin.post("/api/keys", json={"name": "viewer", "scopes": ["read"]})
        assert created.status_code == 201, created.text
        viewer = created.json()["key"]
    page.click("#key-button")
    page.fill("#auth-key", viewer)
    page.check("#auth-remember")
    page.click("#auth-form button[type=submit]")
    page.wait_for_selector("body.ready")
    send(page, "may I?")
    page.wait_for_selector("#banner:has-text(\"lacks the 'chat' scope\")")
    assert page.evaluate("() => localStorage.getItem('switchyard.apiKey')") == viewer

    api_calls = [r for r in ui.requests if "/api/" in r.url]
    assert api_calls
    for request in ui.requests:
        assert ROOT_KEY not in request.url and viewer not in request.url
    # Before a key is known the page asks without one (and is told 401); after, always with it.
    first_keyed = next(i for i, r in enumerate(api_calls) if "authorization" in r.headers)
    assert all("authorization" not in r.headers for r in api_calls[:first_keyed])
    for request in api_calls[first_keyed:]:
        assert request.headers["authorization"].startswith("Bearer "), request.url
    assert {r.headers.get("authorization") for r in api_calls} >= {f"Bearer {ROOT_KEY}", f"Bearer {viewer}"}


def test_a_phone_sized_screen_in_dark_mode_with_the_keyboard_alone(live, open_page, fake_llm):
    ui = open_page(viewport={"width": 390, "height": 800}, color_scheme="dark", is_mobile=True,
                   has_touch=True, device_scale_factor=2)
    page = ui.open(live.url + "/")
    # Dark colours from the system preference.
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(21, 24, 30)"
    # The sessions are a drawer: off screen until the menu button opens it.
    assert page.locator("#sidebar").bounding_box()["x"] < 0
    assert page.is_visible("#menu")
    # Keyboard only: the message box has focus, Enter sends, Tab reaches Send.
    assert page.evaluate("() => document.activeElement.id") == "input"
    fake_llm.script(Text("A short answer with `code` and\n\n```js\nconsole.log(1)\n```", chunks=3))
    page.keyboard.type("hello from a phone")
    page.keyboard.press("Enter")
    page.wait_for_selector(".bubble:has-text('A short answer')")
    wait_idle(page)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "send"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px wide)"
    screenshot(page, "phone-dark")

    page.click("#menu")
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().x >= 0")
    assert page.get_attribute("#menu", "aria-expanded") == "true"
    screenshot(page, "phone-dark-sessions")
    page.click(".session .session-open")
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().right <= 0")
    assert ui.errors == []


def test_the_theme_button_switches_between_light_and_dark(live, open_page):
    ui = open_page(viewport={"width": 1100, "height": 700}, color_scheme="light")
    page = ui.open(live.url + "/")
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    page.click("#theme")   # auto -> light
    page.click("#theme")   # light -> dark
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(21, 24, 30)"
    assert page.evaluate("() => document.getElementById('hljs-light').disabled")
    page.reload()
    page.wait_for_selector("body.ready")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"   # remembered
    screenshot(page, "desktop-dark")

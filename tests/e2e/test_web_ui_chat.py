"""The web chat UI in headless Chromium over a real server and the scripted fake LLM: send and
stream, markdown and code with copy, attachments, stop and retry, a tool call with a manual
approval that survives a reload, sessions (switch, search, rename, fork, delete, reload), and
"auto" with the router's decision on the message. Screenshots: tests/e2e/screenshots/.

Agents: `helper` (the default; manual approvals, the local `stamp` tool, a greeting) and
`billing` (routing keywords), so the agent picker and "auto" are shown.
"""

from __future__ import annotations

import base64

import pytest

from switchyard.tools.base import FunctionTool
from tests.support.browser import (  # noqa: F401 - fixtures
    browser, last_answer, open_page, screenshot, send, wait_idle)
from tests.support.fake_llm import Error, FakeLLM, Text, ToolCalls
from tests.support.tools import agent_config, module_server, tool_messages

# A 1x1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def stamp(label: str) -> str:
    """Stamps a label."""
    return f"stamped {label}"


@pytest.fixture(scope="module")
def fake_llm_server():
    """This module's own fake LLM (it overrides the session-wide one): the browser tests time
    their clicks against a scripted stream (Stop during a slow reply), so a stray request from a
    server another module left running must not take their scripted step (seen once in CI: the
    slow step went elsewhere, the turn got the quick default reply and Stop was never shown)."""
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake_llm_server):
    base = fake_llm_server.base_url
    configs = [
        agent_config("helper", base, permissions={"mode": "manual"}, greeting="Hello! I can stamp things."),
        agent_config("billing", base, routing={"description": "Invoices, payments and refunds.",
                                               "keywords": ["refund", "invoice"]}),
    ]
    # The router asks the model only below its threshold (a keyword match decides alone), and
    # without the embedding layer (the same decision whether or not the [semantic] extra is here).
    with module_server(tmp_path_factory, *configs, tools=[FunctionTool(stamp)],
                       env={"SWITCHYARD_ROUTER_LLM_MARGIN": "0", "SWITCHYARD_ROUTER_SEMANTIC": "off"}) as server:
        yield server


@pytest.fixture
def ui(live, open_page):
    made = open_page(viewport={"width": 1200, "height": 800},
                     permissions=["clipboard-read", "clipboard-write"])
    made.open(live.url + "/")
    yield made
    assert made.errors == [], made.errors


def test_a_reply_streams_in_and_renders_markdown_with_copyable_code(ui, fake_llm):
    page = ui.page
    assert "Hello! I can stamp things." in page.inner_text(".msg.greeting")
    fake_llm.script(Text("Here is **bold** text.\n\n```python\nprint('hi')\n```\n\nDone.", chunks=8,
                         chunk_delay=0.15))
    send(page, "show me code")
    # Part of the answer is on the page while the run is still going (Stop is shown).
    page.wait_for_function("""() => {
        const b = [...document.querySelectorAll('.msg.assistant .bubble')].pop();
        return b && b.textContent.length > 0 && !document.getElementById('stop').hidden
            && !b.textContent.includes('Done.'); }""")
    wait_idle(page)
    answer = last_answer(page)
    assert answer.locator("strong").inner_text() == "bold"
    code = answer.locator(".code-block code")
    assert code.inner_text().strip() == "print('hi')"
    assert "hljs" in code.get_attribute("class")           # highlighted
    assert "fake-model" in answer.locator(".foot").inner_text()
    assert page.locator(".msg.greeting").count() == 0
    answer.locator(".code-block .copy").click()
    page.wait_for_selector(".copy:text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()").strip() == "print('hi')"
    assert fake_llm.requests[-1]["json"]["messages"][-1]["content"] == "show me code"
    screenshot(page, "chat")


def test_an_attached_image_is_sent_as_a_message_part(ui, fake_llm, tmp_path):
    page = ui.page
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    page.set_input_files("#file-input", str(image))
    page.wait_for_selector(".chip:text('dot.png')")
    send(page, "what is in this picture?")
    wait_idle(page)
    assert page.locator(".msg.user img.attachment-image").count() == 1
    sent = fake_llm.requests[-1]["json"]["messages"][-1]["content"]
    assert {"type": "text", "text": "what is in this picture?"} in sent
    images = [p for p in sent if p.get("type") == "image_url"]
    assert len(images) == 1 and images[0]["image_url"]["url"].endswith(base64.b64encode(PNG).decode())
    page.reload()                       # from history, the image is still shown
    page.wait_for_selector(".msg.user img.attachment-image")
    assert page.locator(".msg.user").inner_text().strip() == "what is in this picture?"


def test_stop_cancels_the_run_and_retry_sends_it_again(ui, fake_llm):
    page = ui.page
    fake_llm.script(Text("one two three four five six seven eight", chunks=8, chunk_delay=1.0))
    send(page, "count slowly")
    # The first words are on the page and the run is still going.
    page.wait_for_function("""() => [...document.querySelectorAll('.msg.assistant .bubble')].pop()
        ?.textContent.includes('one') && !document.getElementById('stop').hidden""")
    page.click("#stop")
    wait_idle(page)
    assert "Stopped" in last_answer(page).locator(".foot").inner_text()
    page.click(".retry")
    page.wait_for_selector(".msg.assistant .bubble:has-text('fake reply to: count slowly')")
    wait_idle(page)
    assert page.locator(".msg.user").count() == 2


def test_a_tool_call_waits_for_approval_inline_and_the_approval_survives_a_reload(ui, fake_llm):
    page = ui.page
    fake_llm.script(ToolCalls([("call_s1", "stamp", {"label": "parcel"})]), Text("The parcel is stamped."))
    send(page, "stamp the parcel")
    card = page.wait_for_selector(".approval:not(.answered)")
    assert "stamp" in card.inner_text() and "parcel" in card.inner_text()
    screenshot(page, "approval")

    page.reload()
    page.wait_for_selector("body.ready")
    # Still pending after the reload, shown once, and answerable.
    page.wait_for_selector(".approval:not(.answered) button.approve:not([disabled])")
    assert page.locator(".approval").count() == 1
    page.click(".approval button.approve")
    page.wait_for_selector(".msg.assistant .bubble:has-text('The parcel is stamped.')")
    wait_idle(page)
    tool = last_answer(page).locator("details.tool")
    assert tool.get_attribute("open") is None            # collapsed by default
    tool.locator("summary").click()
    assert "stamped parcel" in tool.locator(".tool-result").inner_text()
    assert '"label": "parcel"' in tool.locator(".tool-args").inner_text()
    assert tool_messages(fake_llm.requests[-1]) == {"call_s1": "stamped parcel"}
    assert "Approved" in page.inner_text(".approval .approval-state")


def test_sessions_switch_search_rename_fork_delete_and_reload_keeps_history(ui, fake_llm):
    page = ui.page
    send(page, "first topic")
    page.wait_for_selector(".bubble:has-text('fake reply to: first topic')")
    wait_idle(page)
    page.click("#new-chat")
    send(page, "second topic")
    page.wait_for_selector(".bubble:has-text('fake reply to: second topic')")
    wait_idle(page)

    first = page.locator(".session", has_text="first topic")
    first.locator(".session-open").click()
    page.wait_for_selector(".bubble:has-text('fake reply to: first topic')")
    assert "second topic" not in page.inner_text("#messages")
    assert first.get_attribute("class").split() == ["session", "active"]

    page.reload()
    page.wait_for_selector(".bubble:has-text('fake reply to: first topic')")
    assert page.inner_text("#session-title") == "first topic"
    assert "second topic" not in page.inner_text("#messages")

    page.fill("#session-search", "second")
    assert page.locator(".session").count() == 1
    assert "second topic" in page.inner_text(".session")
    # Words said in a session but not in its title: found by the server's full-text search,
    # with the matching excerpt under the session.
    page.fill("#session-search", "reply")
    for topic in ("first topic", "second topic"):
        hit = page.locator(".session", has_text=topic).locator(".session-snippet")
        hit.locator("mark").wait_for()
        assert hit.locator("mark").first.inner_text().lower() == "reply"
        assert f"fake reply to: {topic}" in hit.inner_text()
    page.fill("#session-search", "nothing-said-like-this")
    page.wait_for_selector("#session-list .empty")
    page.fill("#session-search", "")

    page.once("dialog", lambda d: d.accept("Renamed topic"))
    page.locator(".session", has_text="first topic").get_by_role("button", name="Rename").click()
    page.wait_for_selector(".session-title:text('Renamed topic')")

    before = page.locator(".session").count()
    page.locator(".session", has_text="Renamed topic").get_by_role("button", name="Fork").click()
    page.wait_for_function(f"() => document.querySelectorAll('.session').length === {before + 1}")
    page.wait_for_selector(".bubble:has-text('fake reply to: first topic')")   # the fork's copied history

    page.once("dialog", lambda d: d.accept())
    page.locator(".session", has_text="second topic").get_by_role("button", name="Delete").click()
    page.wait_for_function(f"() => document.querySelectorAll('.session').length === {before}")
    assert "second topic" not in page.inner_text("#session-list")
    screenshot(page, "sessions")


def test_auto_shows_the_routers_choice_and_reasons_on_the_message(ui, fake_llm):
    page = ui.page
    assert page.locator("#agent-field").is_visible()
    page.select_option("#agent-select", "auto")
    send(page, "I need a refund for my last invoice")
    page.wait_for_selector(".bubble:has-text('fake reply to: I need a refund for my last invoice')")
    wait_idle(page)
    routing = last_answer(page).locator("details.routing")
    assert "auto → billing" in routing.locator(".badge").inner_text()
    routing.locator("summary").click()
    assert "refund" in routing.inner_text()                 # the reason names the matched keyword
    assert "billing" in page.inner_text(".session.active")  # the session is the billing agent's
    screenshot(page, "auto-routing")
    page.reload()                                           # the decision is kept with the history
    kept = page.wait_for_selector(".msg.assistant details.routing .badge")
    assert "auto → billing" in kept.inner_text()
    last_answer(page).locator("details.routing summary").click()
    assert "refund" in last_answer(page).locator("details.routing").inner_text()


def test_deny_goes_back_to_the_model_and_remember_skips_the_next_approval(ui, fake_llm):
    page = ui.page
    fake_llm.script(ToolCalls([("call_d1", "stamp", {"label": "secret"})]), Text("Understood, not stamped."))
    send(page, "stamp the secret")
    page.wait_for_selector(".approval:not(.answered)")
    page.click(".approval button.deny")
    page.wait_for_selector(".bubble:has-text('Understood, not stamped.')")
    wait_idle(page)
    assert "Denied" in page.inner_text(".approval .approval-state")
    assert last_answer(page).locator("details.tool").get_attribute("class").split() == ["tool", "failed"]

    fake_llm.script(ToolCalls([("call_r1", "stamp", {"label": "one"})]), Text("One stamped."),
                    ToolCalls([("call_r2", "stamp", {"label": "two"})]), Text("Two stamped."))
    send(page, "stamp one")
    page.wait_for_selector(".approval:not(.answered)")
    page.check(".approval:not(.answered) input.remember")
    page.click(".approval:not(.answered) button.approve")
    page.wait_for_selector(".bubble:has-text('One stamped.')")
    wait_idle(page)
    send(page, "stamp two")          # remembered: runs without asking
    page.wait_for_selector(".bubble:has-text('Two stamped.')")
    wait_idle(page)
    assert page.locator(".approval").count() == 2
    results = tool_messages(fake_llm.requests[-1])
    assert results["call_r2"] == "stamped two" and results["call_r1"] == "stamped one"
    assert "denied" in results["call_d1"]


def test_the_model_is_shown_and_switched_for_the_session(ui, live, fake_llm):
    page = ui.page
    page.wait_for_function("() => document.getElementById('model-select').value === 'openai-compatible/fake-model'")
    send(page, "which model?")
    page.wait_for_selector(".bubble:has-text('fake reply to: which model?')")
    wait_idle(page)
    session_id = page.evaluate("() => decodeURIComponent(location.hash.split('/')[2])")
    option = page.locator("#model-select option").nth(1)
    target = option.get_attribute("value")
    page.select_option("#model-select", target)
    page.wait_for_function(f"() => document.getElementById('model-select').dataset.current === {target!r}")
    with live.client() as client:
        current = client.get("/api/llm/current", params={"sessionId": session_id, "agentId": "helper"}).json()
        assert f"{current['config']['provider']}/{current['config']['model']}" == target
        # Only this session: the agent's own model is unchanged.
        assert client.get("/api/llm/current", params={"agentId": "helper"}).json()["config"]["model"] == "fake-model"


def test_a_long_session_shows_its_latest_messages_first_and_the_rest_on_demand(ui, live, fake_llm):
    with live.client() as client:
        for i in range(105):
            r = client.post("/api/message-sync", json={"content": f"note {i}", "sessionId": "long-1",
                                                       "agentId": "helper"})
            assert r.status_code == 200, r.text
    page = ui.page
    page.goto(live.url + "/#/helper/long-1")
    page.wait_for_selector(".bubble:has-text('fake reply to: note 104')")
    assert page.locator(".msg").count() == 200
    assert page.locator(".msg.user").first.inner_text() == "note 5"
    page.click("button.more:has-text('Show 10 earlier messages')")
    assert page.locator(".msg").count() == 210
    assert page.locator(".msg.user").first.inner_text() == "note 0"


def test_reasoning_is_shown_collapsed_and_a_model_failure_is_reported_with_retry(ui, fake_llm):
    page = ui.page
    fake_llm.script(Text("Four.", reasoning="2+2 is 4"), Error(status=400))
    send(page, "what is 2+2?")
    page.wait_for_selector(".bubble:has-text('Four.')")
    wait_idle(page)
    reasoning = last_answer(page).locator("details.reasoning")
    assert reasoning.get_attribute("open") is None
    reasoning.locator("summary").click()
    assert "2+2 is 4" in reasoning.inner_text()

    send(page, "and now fail")
    page.wait_for_selector(".msg.assistant .error:has-text('status 400')")
    wait_idle(page)
    page.click(".retry")                 # the script is empty: the default reply
    page.wait_for_selector(".bubble:has-text('fake reply to: and now fail')")
    wait_idle(page)

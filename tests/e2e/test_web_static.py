"""The web UI's files over HTTP (no browser): public at / and /ui/ even when the server needs a
key, while the API stays protected; a strict Content-Security-Policy; a request names a packaged
file or gets 404 (no path reaches the filesystem); HEAD and ETag revalidation."""

from __future__ import annotations

import pytest

from switchyard.server.api.web import ASSETS, CONTENT_SECURITY_POLICY
from tests.support.tools import agent_config, module_server

ROOT_KEY = "sk-root-web-static-0123456789abcdef"


@pytest.fixture(scope="module")
def locked(tmp_path_factory, fake_llm_server):
    env = {"SWITCHYARD_REQUIRE_AUTH": "true", "SWITCHYARD_API_KEY": ROOT_KEY}
    with module_server(tmp_path_factory, agent_config("helper", fake_llm_server.base_url), env=env) as server:
        with server.client() as client:
            yield client


@pytest.mark.parametrize("path", ["/", "/ui/", "/ui/index.html"])
def test_the_page_is_public_with_a_strict_policy(locked, path):
    r = locked.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == ASSETS["index.html"].body.decode()
    policy = r.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_the_api_the_page_calls_still_needs_the_key(locked):
    assert locked.get("/api/agents").status_code == 401
    assert locked.post("/", json={}).status_code == 405      # only reads of the files, and no key changes that
    ok = locked.get("/api/agents", headers={"Authorization": f"Bearer {ROOT_KEY}"})
    assert ok.status_code == 200


def test_assets_have_their_types_and_revalidate(locked):
    js = locked.get("/ui/js/main.js")
    assert js.status_code == 200 and js.headers["content-type"] == "text/javascript; charset=utf-8"
    css = locked.get("/ui/app.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    again = locked.get("/ui/js/main.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = locked.head("/ui/vendor/purify.min.js")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(ASSETS["vendor/purify.min.js"].body)
    assert locked.get("/ui", follow_redirects=False).headers["location"] == "/ui/"


@pytest.mark.parametrize("path", ["/ui/nope.js", "/ui/../pyproject.toml", "/ui/%2e%2e/%2e%2e/pyproject.toml",
                                  "/ui/vendor/../../server/app.py", "/ui/js"])
def test_anything_but_a_packaged_file_is_404_with_the_envelope(locked, path):
    r = locked.get(path)
    # Outside /ui/ (after normalisation) the request needs a key instead.
    assert r.status_code in (404, 401), path
    if r.status_code == 404:
        assert r.json()["code"] == "ui_file_not_found"
        assert "content-security-policy" in r.headers

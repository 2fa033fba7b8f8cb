"""Two servers on one Postgres server database, as replicas run: a key stored on one (with the
shared SWITCHYARD_SECRET_KEY) serves a switch and a turn on the other; custom models are the
same on both."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_llm_extras_api import OPENAI_KEY, make_server
from tests.support.postgres import create_private_database, drop_database


def postgres_url() -> str | None:
    return os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_url(), reason="set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres replica test")
def test_replicas_share_stored_keys_and_custom_models(fake_llm, monkeypatch, tmp_path):
    from cryptography.fernet import Fernet
    base = postgres_url()
    url = create_private_database(base)
    monkeypatch.setenv("SWITCHYARD_DATABASE_URL", url)
    monkeypatch.setenv("SWITCHYARD_SECRET_KEY", Fernet.generate_key().decode())
    first = second = None
    try:
        monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "replica-a"))
        first = make_server().start()
        monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "replica-b"))
        second = make_server().start()
        with first.client() as a, second.client() as b:
            assert a.post("/api/llm/key", json={"provider": "openai", "apiKey": OPENAI_KEY}).status_code == 200
            assert a.post("/api/llm/custom-models", json={"name": "shared-model", "provider": "ollama"}).status_code == 200

            assert b.get("/api/llm/key/openai").json()["source"] == "stored"
            assert [m["name"] for m in b.get("/api/llm/custom-models").json()["models"]] == ["shared-model"]

            switched = b.post("/api/llm/switch", json={"provider": "openai", "model": "gpt-4o-mini",
                                                       "baseURL": fake_llm.base_url})
            assert switched.status_code == 200, switched.text
            reply = b.post("/api/message-sync", json={"content": "on the other replica"})
            assert reply.json()["response"] == "fake reply to: on the other replica"
            assert fake_llm.requests[-1]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
        # Neither replica wrote a secret key file: the shared one came from the environment.
        assert not any((tmp_path / r / "secret.key").exists() for r in ("replica-a", "replica-b"))
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()
        drop_database(url, base)

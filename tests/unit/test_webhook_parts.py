"""The webhook parts below the HTTP layer: the URL policy (with a fake resolver: tests never
resolve real names), the signature, the bounded outbox and the backoff."""

from __future__ import annotations

import ipaddress
import time

import pytest

from switchyard.automation import webhook_store as ws
from switchyard.automation.outbox import OutboxDeliverer
from switchyard.automation.settings import AutomationSettings
from switchyard.automation.signing import signature, verify
from switchyard.automation.urls import TargetRefused, UrlPolicy
from switchyard.errors import ConfigError
from switchyard.store.database import Database


def resolver(*answers: str):
    async def resolve(host: str, port: int) -> list[str]:
        return list(answers)
    return resolve


@pytest.mark.parametrize("answers", [("93.184.216.34", "10.0.0.7"), ("::ffff:169.254.169.254",), ("fd00::1",),
                                     ("224.0.0.1",), ()])
async def test_every_resolved_address_must_be_allowed(answers):
    target = UrlPolicy().check_url("https://hooks.example.test/x")
    with pytest.raises(TargetRefused):
        await UrlPolicy().resolve_target(target, resolver(*answers))


async def test_a_public_answer_passes_and_the_allow_list_opens_only_its_networks():
    policy = UrlPolicy()
    target = policy.check_url("https://hooks.example.test:8443/in?x=1")
    assert (target.host, target.port, target.path) == ("hooks.example.test", 8443, "/in?x=1")
    assert await policy.resolve_target(target, resolver("93.184.216.34")) == "93.184.216.34"
    allowed = UrlPolicy((ipaddress.ip_network("10.20.0.0/16"),))
    assert await allowed.resolve_target(target, resolver("10.20.3.4")) == "10.20.3.4"
    with pytest.raises(TargetRefused):
        await allowed.resolve_target(target, resolver("10.21.3.4"))
    with pytest.raises(TargetRefused):
        UrlPolicy(require_https=True).check_url("http://hooks.example.test/")


def test_settings_refuse_a_bad_allow_list_and_read_production():
    with pytest.raises(ConfigError, match="SWITCHYARD_WEBHOOK_ALLOW_NETWORKS"):
        AutomationSettings.from_env({"SWITCHYARD_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/8,not-a-net"})
    with pytest.raises(ConfigError, match="SWITCHYARD_WEBHOOK_MAX_ATTEMPTS"):
        AutomationSettings.from_env({"SWITCHYARD_WEBHOOK_MAX_ATTEMPTS": "0"})
    assert AutomationSettings.from_env({}, production=True).require_https
    assert not AutomationSettings.from_env({"SWITCHYARD_WEBHOOK_ALLOW_HTTP": "true"}, production=True).require_https


def test_a_signature_is_refused_when_stale_or_malformed():
    now = int(time.time())
    header = signature("k", now - 1000, b"{}")
    assert verify("k", header, b"{}", now=now - 1000)
    assert not verify("k", header, b"{}", now=now)          # older than five minutes
    assert not verify("k", "v1=abc", b"{}") and not verify("k", "t=x,v1=abc", b"{}")


async def test_the_outbox_is_bounded_per_webhook(tmp_path):
    db = await Database(f"sqlite+aiosqlite:///{tmp_path / 's.db'}").open()
    try:
        rows = [ws.Outgoing(f"d{i}", "wh_a" if i < 4 else "wh_b", "run:complete", "{}", i) for i in range(6)]
        dropped = await db.write(ws.record, rows, 3)
        assert [r.id for r in dropped] == ["d3"]
        heads = await db.read(ws.heads)
        assert sorted((h["webhook_id"], h["id"]) for h in heads) == [("wh_a", "d0"), ("wh_b", "d4")]
    finally:
        await db.close()


def test_backoff_doubles_with_jitter_up_to_the_cap():
    deliverer = OutboxDeliverer(None, AutomationSettings(retry_base=1.0, retry_max=5.0), holder="t")  # type: ignore[arg-type]
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)):
        delays = [deliverer.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1

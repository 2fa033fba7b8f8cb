"""Shared fixtures, and a guard that fails any test reaching beyond loopback.

It sits above tests/unit and tests/e2e so that the guard and the fixtures apply to both."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

# The shared fixtures: fake_llm, fake_llm_server, live_server (tests/support/fixtures.py).
pytest_plugins = ["tests.support.fixtures"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths
        return True
    if not isinstance(address, tuple) or not address:
        return True
    host = address[0]
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkGuardError(AssertionError):
    pass


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise NetworkGuardError(f"test tried to reach {address!r}: tests stay on loopback")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise NetworkGuardError(f"test tried to reach {address!r}: tests stay on loopback")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost", "") and not _is_loopback_literal(name):
        raise NetworkGuardError(f"test tried to resolve {name!r}: tests stay on loopback")
    return _real_getaddrinfo(host, *args, **kwargs)


def _is_loopback_literal(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def _network_guard():
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo  # type: ignore[assignment]


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory):
    """Servers of a whole module start before any test's own home is set: without this they
    used ~/.switchyard (its server.db shared with every other run on the machine)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWITCHYARD_HOME", str(tmp_path_factory.mktemp("session-home")))
        yield


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own SWITCHYARD_HOME and no provider keys from the machine."""
    monkeypatch.setenv("SWITCHYARD_HOME", str(tmp_path / "home"))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEXTO_SERVER_API_KEY", "SWITCHYARD_API_KEY",
                "NODE_ENV", "SWITCHYARD_ENV", "DEXTO_SERVER_REQUIRE_AUTH", "SWITCHYARD_REQUIRE_AUTH"):
        monkeypatch.delenv(var, raising=False)
    yield


_POSTGRES_BASE: str | None = None


_RUN_HOME: str | None = None


def pytest_configure(config) -> None:  # noqa: ANN001
    """The run never touches the user's ~/.switchyard: fixtures wider than one test (a
    module's server) start before the per-test home below, so the whole run gets a home of
    its own first. With a Postgres server to test on, the run also uses a database of its own
    (see tests/support/postgres.py): SWITCHYARD_TEST_POSTGRES_URL is pointed at it."""
    global _POSTGRES_BASE, _RUN_HOME
    if _RUN_HOME is None:
        import tempfile
        _RUN_HOME = tempfile.mkdtemp(prefix="switchyard-test-home-")
        os.environ["SWITCHYARD_HOME"] = _RUN_HOME
    base = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")
    if not base or _POSTGRES_BASE is not None:
        return
    from tests.support.postgres import create_private_database
    try:
        private = create_private_database(base)
    except Exception as exc:  # noqa: BLE001 - say why, then let the Postgres tests fail loudly
        raise pytest.UsageError(f"SWITCHYARD_TEST_POSTGRES_URL is set but a test database could not "
                                f"be created there: {type(exc).__name__}: {exc}") from exc
    _POSTGRES_BASE = base
    os.environ["SWITCHYARD_TEST_POSTGRES_URL"] = private


def pytest_unconfigure(config) -> None:  # noqa: ANN001
    global _POSTGRES_BASE, _RUN_HOME
    if _RUN_HOME is not None:
        import shutil
        shutil.rmtree(_RUN_HOME, ignore_errors=True)
        _RUN_HOME = None
    if _POSTGRES_BASE is None:
        return
    from tests.support.postgres import drop_database
    private = os.environ["SWITCHYARD_TEST_POSTGRES_URL"]
    os.environ["SWITCHYARD_TEST_POSTGRES_URL"] = _POSTGRES_BASE
    try:
        drop_database(private, _POSTGRES_BASE)
    finally:
        _POSTGRES_BASE = None


def postgres_url() -> str | None:
    return os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")


def redis_url() -> str | None:
    return os.environ.get("SWITCHYARD_TEST_REDIS_URL")

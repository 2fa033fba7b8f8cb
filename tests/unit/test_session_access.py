"""SessionAccess without HTTP: a real Agent (echo model, in-memory SQLite store, manual tool
approvals) seen by different principals.

The same rules are checked end to end over REST, A2A, MCP and the OpenAI API by
test_security_modes.py, test_server_api.py, test_protocol_*.py and test_tools_approvals.py;
here each rule is checked once, at the one place that implements it.
"""

from __future__ import annotations

import asyncio

import pytest

from switchyard.config import parse_agent
from switchyard.errors import ConflictError, NotFoundError
from switchyard.principal import ANONYMOUS, Principal
from switchyard.runtime.agent import Agent
from switchyard.runtime.session_access import SessionAccess

CHAT = frozenset({"read", "chat"})
ALICE = Principal(name="alice", scopes=CHAT)
BOB = Principal(name="bob", scopes=CHAT)
ADMIN = Principal(name="ops", scopes=frozenset({"read", "chat", "admin"}))


@pytest.fixture
async def agent():
    config = {"agentId": "access", "llm": {"provider": "echo"},
              "storage": {"database": {"type": "in-memory"}},
              "permissions": {"mode": "manual"}}
    agent = await Agent(parse_agent(config, env={}), env={}).start()
    try:
        yield agent
    finally:
        await agent.stop(grace=1)


def as_(agent: Agent, principal: Principal) -> SessionAccess:
    return SessionAccess(agent, principal)


async def owned(agent: Agent, principal: Principal, session_id: str) -> dict:
    """A session of `principal` under a chosen id (only admins may choose ids: made directly)."""
    session, _ = await agent.create_session(session_id, owner=principal.name)
    return session


async def not_found(awaitable) -> NotFoundError:
    with pytest.raises(NotFoundError) as caught:
        await awaitable
    assert caught.value.code == "session_not_found"
    return caught.value


# --- seeing ----------------------------------------------------------------------------------

async def test_another_keys_session_is_answered_exactly_like_a_missing_one(agent):
    await owned(agent, BOB, "bobs")
    hidden = await not_found(as_(agent, ALICE).get("bobs"))
    missing = await not_found(as_(agent, ALICE).get("nobody"))
    assert hidden.message == "session 'bobs' not found"
    assert (hidden.status, hidden.code) == (missing.status, missing.code)
    assert missing.message == "session 'nobody' not found"


async def test_the_owner_admins_and_no_auth_mode_see_a_session(agent):
    await owned(agent, ALICE, "alices")
    for principal in (ALICE, ADMIN, ANONYMOUS):
        assert (await as_(agent, principal).get("alices"))["owner"] == "alice"
        assert await as_(agent, principal).may_see("alices")
    assert not await as_(agent, BOB).may_see("alices")
    assert not await as_(agent, ALICE).may_see("nobody")


async def test_a_key_lists_its_own_sessions_admins_and_no_auth_all(agent):
    await owned(agent, ALICE, "a1")
    await owned(agent, ALICE, "a2")
    await owned(agent, BOB, "b1")
    await as_(agent, ANONYMOUS).create("anon")

    def ids(sessions):
        return sorted(s["id"] for s in sessions)

    assert ids(await as_(agent, ALICE).list_visible()) == ["a1", "a2"]
    assert ids(await as_(agent, BOB).list_visible()) == ["b1"]
    assert ids(await as_(agent, ADMIN).list_visible()) == ["a1", "a2", "anon", "b1"]
    assert ids(await as_(agent, ANONYMOUS).list_visible()) == ["a1", "a2", "anon", "b1"]


# --- creating and sending ----------------------------------------------------------------------

async def test_create_records_the_caller_and_is_idempotent_for_its_own_id(agent):
    alice = as_(agent, ALICE)
    assert alice.owner == "alice" and as_(agent, ANONYMOUS).owner is None
    made = await owned(agent, ALICE, "mine")
    assert made["owner"] == "alice"
    assert (await alice.create("mine"))["createdAt"] == made["createdAt"]
    generated = await alice.create()
    assert generated["id"] and generated["owner"] == "alice"
    assert (await alice.create(generated["id"]))["id"] == generated["id"]
    await not_found(as_(agent, BOB).create("mine"))
    assert (await agent.get_session("mine"))["owner"] == "alice"


async def test_a_non_admin_key_cannot_tell_a_free_id_from_another_keys(agent):
    # Issue 17.10: creating, sending to and deleting another key's id answered differently
    # from a never-seen id (an existence oracle). Every one of them is now the same 404.
    await owned(agent, ALICE, "alices")
    bob = as_(agent, BOB)
    for sid in ("alices", "never-seen"):
        for operation in (bob.create(sid), bob.ensure_may_send(sid), bob.delete(sid),
                          bob.get(sid), bob.reset(sid)):
            error = await not_found(operation)
            assert error.message == f"session {sid!r} not found"
    await not_found(agent.get_session("never-seen"))


async def test_a_session_id_cannot_be_claimed_under_another_agent(agent):
    # Issue 17.10: an id used under one agent could be claimed first under another by a
    # different key. A non-admin key now names only ids it can see under that very agent.
    other = await Agent(parse_agent({"agentId": "other", "llm": {"provider": "echo"},
                                     "storage": {"database": {"type": "in-memory"}}}, env={}),
                        env={}).start()
    try:
        made = await as_(agent, ALICE).create()
        await not_found(as_(other, BOB).create(made["id"]))
        await not_found(as_(other, BOB).ensure_may_send(made["id"]))
        await not_found(as_(other, ALICE).ensure_may_send(made["id"]))
        await not_found(other.get_session(made["id"]))
    finally:
        await other.stop(grace=1)


async def test_a_message_goes_to_an_own_session_or_a_new_id_only_for_admins(agent):
    alice = as_(agent, ALICE)
    await alice.ensure_may_send(None)
    await not_found(alice.ensure_may_send("brand-new"))
    await as_(agent, ADMIN).ensure_may_send("brand-new")
    await as_(agent, ANONYMOUS).ensure_may_send("brand-new")
    await agent.generate("talk", "hello", owner=alice.owner)
    await alice.ensure_may_send("talk")
    await as_(agent, ADMIN).ensure_may_send("talk")
    await not_found(as_(agent, BOB).ensure_may_send("talk"))


# --- changing another key's session is refused; one's own works -------------------------------

async def test_every_operation_on_another_keys_session_is_not_found(agent):
    await agent.generate("alices", "hello there", owner="alice")
    bob = as_(agent, BOB)
    for operation in (bob.get("alices"), bob.history("alices"), bob.rename("alices", "mine now"),
                      bob.fork("alices"), bob.reset("alices"), bob.cancel("alices"),
                      bob.attach("alices"), bob.delete("alices")):
        await not_found(operation)
    session = await agent.get_session("alices")
    assert session["messageCount"] == 2 and session["title"] == "hello there"


async def test_the_owner_reads_renames_forks_resets_and_deletes(agent):
    alice = as_(agent, ALICE)
    await agent.generate("s", "hello", owner="alice")
    history = await alice.history("s")
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert (await alice.rename("s", "renamed"))["title"] == "renamed"
    child = await alice.fork("s")
    assert child["owner"] == "alice" and child["parentSessionId"] == "s"
    assert len(await alice.history(child["id"])) == 2
    assert await alice.cancel("s") is False
    with pytest.raises(ConflictError):
        await alice.attach("s")
    await alice.reset("s")
    assert await alice.history("s") == []
    assert await alice.delete("s") is True
    await not_found(alice.get("s"))


async def test_an_admin_may_delete_another_keys_session(agent):
    await owned(agent, ALICE, "alices")
    assert await as_(agent, ADMIN).delete("alices") is True
    assert not await as_(agent, ANONYMOUS).may_see("alices")


async def test_deleting_a_missing_session_is_not_found_for_everyone(agent):
    # Issue 18.8: DELETE of an unknown session answered 200. It is 404, for admins too.
    for who in (ALICE, ADMIN, ANONYMOUS):
        await not_found(as_(agent, who).delete("never-was"))


async def test_an_ephemeral_session_is_seeded_owned_and_discarded(agent):
    alice = as_(agent, ALICE)
    prior = [{"id": "m1", "role": "user", "content": "earlier", "timestamp": 1},
             {"id": "m2", "role": "assistant", "content": "noted", "timestamp": 2}]
    await alice.create_ephemeral("one-call", prior)
    session = await alice.get("one-call")
    assert session["owner"] == "alice" and session["messageCount"] == 2
    await alice.discard("one-call")
    await not_found(agent.get_session("one-call"))


# --- remembered approvals end with their session ---------------------------------------------

async def remember_add(agent: Agent, session_id: str) -> None:
    """Approve tool `add` with rememberChoice in the session, as POST /api/approvals does."""
    task = asyncio.create_task(agent.approvals.authorize(session_id, "add", "c1", {}))
    pending = await wait_pending(agent, session_id)
    agent.approvals.resolve(pending["approvalId"], "approved", remember=True)
    assert (await task).approved
    assert (await agent.approvals.authorize(session_id, "add", "c2", {})).approved  # no asking


async def wait_pending(agent: Agent, session_id: str) -> dict:
    for _ in range(200):
        pending = agent.approvals.pending(session_id)
        if pending:
            return pending[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no approval of {session_id} became pending")


async def assert_asks_again(agent: Agent, session_id: str) -> None:
    """A call of `add` in the session waits for an answer (it is cancelled after)."""
    task = asyncio.create_task(agent.approvals.authorize(session_id, "add", "c3", {}))
    await wait_pending(agent, session_id)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_remembered_approval_does_not_outlive_a_deleted_session(agent):
    alice = as_(agent, ALICE)
    await owned(agent, ALICE, "reused-id")
    await remember_add(agent, "reused-id")
    assert agent.approvals.remembered("reused-id") == {"add"}

    await alice.delete("reused-id")
    await owned(agent, ALICE, "reused-id")   # a new session with the same id
    assert agent.approvals.remembered("reused-id") == set()
    await assert_asks_again(agent, "reused-id")


async def test_reset_forgets_the_sessions_remembered_approvals(agent):
    alice = as_(agent, ALICE)
    await owned(agent, ALICE, "reset-me")
    await remember_add(agent, "reset-me")
    await alice.reset("reset-me")
    assert agent.approvals.remembered("reset-me") == set()
    await assert_asks_again(agent, "reset-me")


async def test_another_keys_delete_leaves_remembered_approvals_alone(agent):
    await owned(agent, ALICE, "kept")
    await remember_add(agent, "kept")
    await not_found(as_(agent, BOB).delete("kept"))
    assert agent.approvals.remembered("kept") == {"add"}


async def test_discarding_an_ephemeral_session_forgets_its_approvals(agent):
    alice = as_(agent, ALICE)
    await alice.create_ephemeral("mcp-once", [])
    await remember_add(agent, "mcp-once")
    await alice.discard("mcp-once")
    assert agent.approvals.remembered("mcp-once") == set()

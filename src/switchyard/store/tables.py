"""The schema, in SQLAlchemy Core, shared by SQLite and Postgres: one metadata for every
table Switchyard keeps (an agent's sessions, messages and memories, the server's API keys and
audit log; the full-text index over messages is backend-specific DDL in fulltext.py). This
is the schema the code reads and writes; a database on disk is brought to it by the migrations
in store/migrations/ (a change here needs a migration there)."""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Float, Index, Integer, LargeBinary, MetaData, String,
                        Table, Text, UniqueConstraint)

metadata = MetaData()

sessions = Table(
    "sessions", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("created_at", BigInteger, nullable=False),       # epoch milliseconds
    Column("last_activity", BigInteger, nullable=False),
    Column("title", String(200)),
    Column("parent_session_id", String(200)),
    Column("owner", String(200)),                            # API key name that created it
    Column("message_count", Integer, nullable=False, default=0),
    Column("next_seq", Integer, nullable=False, default=0),
    # Running token totals, as columns so that one UPDATE can add to them atomically.
    Column("input_tokens", BigInteger, nullable=False, default=0),
    Column("output_tokens", BigInteger, nullable=False, default=0),
    Column("reasoning_tokens", BigInteger, nullable=False, default=0),
    Column("cache_read_tokens", BigInteger, nullable=False, default=0),
    Column("cache_write_tokens", BigInteger, nullable=False, default=0),
    Column("llm_override", JSON),                            # never holds an API key
    # The model's context starts at the message with this sequence number (None: at the
    # first). Older messages stay in the history the user sees; clear-context sets it past
    # the last message, compaction sets it to its summary message (store/sessions.py).
    Column("context_start_seq", Integer),
    Index("ix_sessions_activity", "agent_id", "last_activity"),
)

messages = Table(
    "messages", metadata,
    Column("agent_id", String(100), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", JSON, nullable=False),                    # the whole InternalMessage
    # The message's searchable text (its text parts), written with it: the full-text index
    # (fulltext.py) is built over this column on both backends.
    Column("text", Text),
    UniqueConstraint("agent_id", "session_id", "seq", name="uq_messages_seq"),
    Index("ix_messages_session", "agent_id", "session_id", "seq"),
)

memories = Table(
    "memories", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("owner", String(200)),                            # API key name that made it
    Column("content", Text, nullable=False),
    Column("tags", JSON, nullable=False),                    # list of strings, in order given
    Column("metadata", JSON, nullable=False),                # {source?, pinned?, ...}
    # Copies of metadata.source and metadata.pinned, as columns so that filters run in SQL.
    Column("source", String(16)),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),        # epoch milliseconds
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_memories_owner", "agent_id", "owner", "updated_at"),
)

# One row per tag of a memory, so that the any-tag filter and paging run in SQL.
memory_tags = Table(
    "memory_tags", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("memory_id", String(64), primary_key=True),
    Column("tag", String(50), primary_key=True),
    Index("ix_memory_tags_tag", "agent_id", "tag"),
)

# Custom prompts (POST /api/prompts/custom): an agent's own, kept by name (a slug).
custom_prompts = Table(
    "custom_prompts", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("title", String(200)),
    Column("description", Text),
    Column("content", Text, nullable=False),
    Column("arguments", JSON),                               # [{name, description?, required?}]
    Column("resource_uri", String(100)),                     # blob:<id> of an attached file
    Column("created_at", BigInteger, nullable=False),        # epoch milliseconds
    Column("updated_at", BigInteger, nullable=False),
)

# Stored files, read back as `blob:<id>` resources (a custom prompt's attachment).
blobs = Table(
    "blobs", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("mime_type", String(200), nullable=False),
    Column("original_name", String(255)),
    Column("size", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),            # system | user
    Column("data", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(64), primary_key=True),
    # Not unique: a rotated key and its successor share the name (sessions belong to the name).
    Column("name", String(100), nullable=False),
    Column("prefix", String(32), nullable=False),            # shown in listings, not secret
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the whole key
    Column("scopes", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),        # epoch milliseconds
    Column("expires_at", BigInteger),
    Column("revoked_at", BigInteger),
    Column("last_used_at", BigInteger),
    Column("rate_limit", String(64)),                        # a `limits` string, e.g. 60/minute
    Column("replaced_by", String(64)),                       # id of the key that rotated it out
    Column("created_by", String(100)),
    Index("ix_api_keys_name", "name"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),                     # epoch seconds
    Column("action", String(64), nullable=False),
    Column("key_name", String(100)),                         # who acted (never a secret)
    Column("address", String(100)),
    Column("route", String(300)),
    Column("outcome", String(32)),
    Column("details", JSON),
    Index("ix_audit_ts", "ts"),
    Index("ix_audit_action", "action"),
    Index("ix_audit_key", "key_name"),
)

# --- automation (server database): webhooks and their delivery outbox, schedules, leases ---

webhooks = Table(
    "webhooks", metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(100)),                            # API key name that made it
    Column("url", String(2048), nullable=False),
    Column("secret", String(200), nullable=False),           # HMAC key: never returned
    Column("description", String(500)),
    Column("events", JSON),                                  # event names; null: the default set
    Column("agent_id", String(100)),                         # null: every hosted agent
    Column("created_at", BigInteger, nullable=False),
    Index("ix_webhooks_owner", "owner"),
)

# The outbox: one row per (webhook, event), written when the event happens, delivered in `seq`
# order per webhook; `status` pending -> delivered | dead.
webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),   # the delivery id receivers see
    Column("webhook_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),                    # the exact JSON body POSTed
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),   # epoch ms
    Column("last_status", Integer),
    Column("last_error", String(500)),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Index("ix_webhook_deliveries_due", "status", "webhook_id", "seq"),
)

# A named lease: who holds it until when (one replica delivers webhooks, for instance).
leases = Table(
    "leases", metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", BigInteger, nullable=False),        # epoch ms
)

schedules = Table(
    "schedules", metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(100)),
    Column("agent_id", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("instruction", Text, nullable=False),
    Column("metadata", JSON),
    Column("session_mode", String(16), nullable=False),
    Column("session_id", String(200)),
    Column("workspace_path", String(1000)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("last_run_at", BigInteger),
    Column("next_run_at", BigInteger),
    Column("run_count", Integer, nullable=False, default=0),
    Column("success_count", Integer, nullable=False, default=0),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("last_error", String(1000)),
    Index("ix_schedules_due", "enabled", "next_run_at"),
)

# One row per run of a schedule: the unique (schedule, due time) is the claim that makes each
# due run run once, whatever the number of replicas.
schedule_runs = Table(
    "schedule_runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("schedule_id", String(64), nullable=False),
    Column("due_at", BigInteger, nullable=False),            # the cron time; 0-based manual ids differ
    Column("status", String(16), nullable=False),            # pending | success | failed | timeout
    Column("claimed_by", String(100)),
    Column("triggered_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger),
    Column("duration", Integer),
    Column("error", String(1000)),
    Column("result", Text),
    UniqueConstraint("schedule_id", "due_at", name="uq_schedule_runs_due"),
)

# Workspaces (the reference's `/api/workspaces`): folders a client works in, one of them active
# per agent. A record for clients; it never widens what the agent's tools may reach.
workspaces = Table(
    "workspaces", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("path", String(1000), nullable=False),
    Column("name", String(200)),
    Column("active", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_active_at", BigInteger, nullable=False),
    UniqueConstraint("agent_id", "path", name="uq_workspaces_path"),
)

# Small per-key preferences of an agent's clients, as JSON under a name (the model picker's
# recents and favorites). `owner` is the key's name, "" when the server runs without keys.
preferences = Table(
    "preferences", metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("owner", String(100), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# --- the server's model settings (server database): custom models, stored provider keys ---

# A model the user added by name (the reference's custom models): what to switch to when a
# switch names it. `api_key` is Fernet ciphertext (server/secret_box.py), never the key itself.
custom_models = Table(
    "custom_models", metadata,
    Column("name", String(200), primary_key=True),
    Column("body", JSON, nullable=False),                    # the model's fields, without apiKey
    Column("api_key", Text),                                 # encrypted; null: none
    Column("created_at", BigInteger, nullable=False),        # epoch ms
    Column("updated_at", BigInteger, nullable=False),
)

# One provider API key per provider, for every agent of this server whose own key is absent
# (POST /api/llm/key). Encrypted at rest; `hint` is the last characters, shown masked.
provider_keys = Table(
    "provider_keys", metadata,
    Column("provider", String(64), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("hint", String(16)),
    Column("updated_at", BigInteger, nullable=False),        # epoch ms
    Column("updated_by", String(100)),                       # API key name (never a secret)
)

# The full-text index over messages.text is made with the tables (a new database is made from
# this metadata), by backend-specific DDL.
from switchyard.store import fulltext as _fulltext  # noqa: E402 - needs `messages` above

_fulltext.attach(messages)

# Agent configuration changes applied over HTTP, in order (runtime/config_sync.py): every
# replica replays them, so agents changed on one replica are served the same on all.
agent_config_changes = Table(
    "agent_config_changes", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),   # the configuration version
    Column("agent_id", String(100), nullable=False),
    Column("action", String(16), nullable=False),            # config | install | uninstall | switch
    Column("text", Text),                                    # the agent file (config, install)
    Column("sha", String(64)),                               # sha256 of `text`
    Column("replaced_sha", String(64)),                      # sha256 of the file it replaced
    Column("meta", JSON),                                    # install: name, description, path
    Column("replica", String(64), nullable=False),           # the replica that applied it first
    Column("created_at", BigInteger, nullable=False),        # epoch ms
    Index("ix_agent_config_changes_agent", "agent_id", "seq"),
)

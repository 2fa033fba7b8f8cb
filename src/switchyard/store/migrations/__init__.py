"""The schema's history as Alembic migrations, shipped inside the package and applied by
store/schema.py when a database is opened.

HEAD names the newest migration: schema.py compares it with a database's `alembic_version`
row without importing Alembic (a fast open), and tests/test_store_migrations.py checks that it
is the head of versions/. Adding a migration: see env.py."""

HEAD = "0008_agent_config_changes"

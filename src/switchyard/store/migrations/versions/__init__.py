"""One file per migration (Alembic skips this one); see ../env.py for how to add one."""

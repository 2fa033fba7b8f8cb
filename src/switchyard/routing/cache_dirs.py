"""Where the router keeps its caches (the hook's decisions and tables, the agent texts'
vectors): $XDG_CACHE_HOME/switchyard, else ~/.cache/switchyard. Standard library only: the
prompt hook imports it."""

from __future__ import annotations

import os


def cache_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "switchyard")

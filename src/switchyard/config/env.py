"""`$VAR`, `${VAR}` and `${VAR:-default}` expansion over a parsed YAML tree.

`${{dexto.agent_dir}}` (the reference's template) becomes the folder of the agent file.
A variable that is not set and has no default is an error naming the variable and the
field path where it was used; all of them are reported at once.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

_PATTERN = re.compile(
    r"\$\{\{\s*dexto\.agent_dir\s*\}\}"                          # reference template
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}"               # ${VAR} / ${VAR:-default}
    r"|\$([A-Za-z_][A-Za-z0-9_]*)"                                # $VAR
)


def expand(tree: Any, env: Mapping[str, str], agent_dir: str, path: str = "",
           missing: list[tuple[str, str]] | None = None) -> Any:
    """Return the tree with variables expanded; append (path, variable) to `missing`."""
    if missing is None:
        missing = []
    if isinstance(tree, dict):
        return {k: expand(v, env, agent_dir, f"{path}.{k}" if path else str(k), missing)
                for k, v in tree.items()}
    if isinstance(tree, list):
        return [expand(v, env, agent_dir, f"{path}[{i}]", missing) for i, v in enumerate(tree)]
    if isinstance(tree, str) and "$" in tree:
        def replace(match: re.Match[str]) -> str:
            if match.group(0).startswith("${{"):
                return agent_dir
            name = match.group(1) or match.group(3)
            default = match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            missing.append((path, name))
            return match.group(0)
        return _PATTERN.sub(replace, tree)
    return tree

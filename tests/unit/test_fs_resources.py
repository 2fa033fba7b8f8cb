"""runtime/fs_resources.py on real files: the rule on names (what the e2e test does not reach)
and the bound on how many paths one listing looks at."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.config.resources_schema import FilesystemResourceConfig
from switchyard.runtime.fs_resources import FilesystemResources


def provider(root: Path, **options) -> FilesystemResources:
    return FilesystemResources(FilesystemResourceConfig(type="filesystem", paths=["."], **options), root, [])


@pytest.mark.parametrize("name, hidden, refused", [
    ("Makefile", False, None), ("Dockerfile", False, None), ("notes", False, "a file without an extension"),
    (".gitignore", False, None), (".nvmrc", False, None), (".npmrc", False, "a hidden file"),
    (".env.production", True, "an environment file"), (".ENV", True, "an environment file"),
    ("archive.TAR.GZ", False, "extension '.gz' is not in includeExtensions"), ("Guide.MD", False, None),
])
def test_which_names_are_resources(tmp_path, name, hidden, refused):
    (tmp_path / name).write_text("x")
    reason = provider(tmp_path, includeHidden=hidden, includeExtensions=[".md"]).refusal(tmp_path / name)
    assert (reason is None) if refused is None else (refused in reason), reason


def test_a_listing_stops_after_looking_at_its_budget_of_paths(tmp_path):
    for i in range(60):
        (tmp_path / f"skip-{i:02}.bin").write_text("x")
    (tmp_path / "zz-last.md").write_text("x")    # walked last: never reached

    class Small(FilesystemResources):
        max_visits = 50

    assert provider(tmp_path).list()[-1]["name"] == "zz-last.md"
    small = Small(FilesystemResourceConfig(type="filesystem", paths=["."]), tmp_path, [])
    assert small.list() == []

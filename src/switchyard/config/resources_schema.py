"""The agent file's `resources:` list: the reference's agent-managed resource providers.

    resources:
      - type: filesystem          # files under `paths`, listed by GET /api/resources
        paths: ["."]              # relative to the agent's folder
        maxDepth: 3               # 1-10
        maxFiles: 1000            # 1-10000
        includeHidden: false
        includeExtensions: [".md", ".py"]
      - type: blob                # lists the files the agent keeps (not a custom prompt's)

Field names, bounds and defaults are the reference's (packages/core/src/resources/schemas.ts),
so its agent files validate unchanged; every entry forbids unknown fields, so a misspelt one is
named with its path (`resources[0].maxDepht`). runtime/fs_resources.py serves them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

RESOURCE_TYPES = ("filesystem", "blob")

# The reference's default: common text files.
DEFAULT_EXTENSIONS = [".txt", ".md", ".js", ".ts", ".json", ".html", ".css", ".py", ".yaml", ".yml",
                      ".xml", ".jsx", ".tsx", ".vue", ".php", ".rb", ".go", ".rs", ".java", ".kt",
                      ".swift", ".sql", ".sh", ".bash", ".zsh"]

FileExtension = Annotated[str, StringConstraints(pattern=r"^\.[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilesystemResourceConfig(_Strict):
    type: Literal["filesystem"]
    paths: list[Annotated[str, StringConstraints(min_length=1, max_length=4096)]] = Field(min_length=1)
    maxDepth: int = Field(3, ge=1, le=10)
    maxFiles: int = Field(1000, ge=1, le=10_000)
    includeHidden: bool = False
    includeExtensions: list[FileExtension] = Field(default_factory=lambda: list(DEFAULT_EXTENSIONS))


class BlobResourceConfig(_Strict):
    type: Literal["blob"]


ResourceConfig = Annotated[Union[FilesystemResourceConfig, BlobResourceConfig], Field(discriminator="type")]

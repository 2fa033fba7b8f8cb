"""Encryption at rest for the secrets the server stores for itself (provider API keys, custom
models' keys): Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The Fernet key comes from SWITCHYARD_SECRET_KEY (a Fernet key: 32 url-safe base64 bytes, as
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`
prints), else from the file `$SWITCHYARD_HOME/secret.key`, made on first use with mode 0600.
A file readable by others is refused, as ssh refuses such a private key. Replicas that share a
database must share the key: set SWITCHYARD_SECRET_KEY on each (a row encrypted under another
key cannot be read; it is reported and treated as absent, never as a crash).

`cryptography` is imported on first use, not at start-up.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from switchyard.errors import RuntimeFailure

KEY_FILE = "secret.key"
KEY_VAR = "SWITCHYARD_SECRET_KEY"


class UnreadableSecret(Exception):
    """A ciphertext this server's key cannot open (another key, or corrupted)."""


class SecretBox:
    def __init__(self, env: Mapping[str, str], home: str | None = None) -> None:
        self._configured = (env.get(KEY_VAR) or "").strip() or None
        self._home = Path(home or env.get("SWITCHYARD_HOME") or Path.home() / ".switchyard").expanduser()
        self._fernet: Any = None
        self._lock = threading.Lock()

    @property
    def key_file(self) -> Path:
        return self._home / KEY_FILE

    def _load(self) -> Any:
        from cryptography.fernet import Fernet
        with self._lock:
            if self._fernet is None:
                raw = self._configured.encode() if self._configured else self._file_key()
                try:
                    self._fernet = Fernet(raw)
                except (ValueError, TypeError):
                    where = KEY_VAR if self._configured else str(self.key_file)
                    raise RuntimeFailure(f"{where} is not a Fernet key (32 url-safe base64-encoded bytes)",
                                      code="secret_key_invalid") from None
            return self._fernet

    def _file_key(self) -> bytes:
        from cryptography.fernet import Fernet
        path = self.key_file
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise RuntimeFailure(f"{path} is readable by other users (mode {mode:o}): run chmod 600 on it",
                                  code="secret_key_permissions") from None
            return path.read_bytes().strip()
        key = Fernet.generate_key()
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        return key

    def encrypt(self, secret: str) -> str:
        return self._load().encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken
        try:
            return self._load().decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            raise UnreadableSecret() from None


def hint_of(secret: str) -> str | None:
    """The last 4 characters of a key long enough to spare them (none of a short one)."""
    return secret[-4:] if len(secret) >= 16 else None


"""Who may read the console: a users file (name, role, salted PBKDF2 hash of the password)
and a signed session cookie. Read-only roles: ``operator`` (the custody operator's back
office: holders' names) and ``regulator`` (the regulator's reader: account numbers only).

    python -m regchain.console adduser NAME --role operator --users FILE   # asks the password

The users file is JSON, {"users": {"alice": {"role": "operator", "salt": "..", "hash": ".."}}},
kept outside the repository (default .node/console-users.json beside the devnet)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from regchain.console.views import ROLES

ITERATIONS = 200_000
SESSION_S = 8 * 3600


class AuthError(Exception):
    """Bad users file or bad input; one line."""


def hash_password(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS).hex()


class Users:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {"users": {}}
        except ValueError as exc:
            raise AuthError(f"users file {self.path}: not JSON ({exc})") from None
        self.users: dict = data.get("users", {})
        for name, u in self.users.items():
            if u.get("role") not in ROLES:
                raise AuthError(f"users file {self.path}: user {name!r} has unknown role {u.get('role')!r} "
                                f"(known: {', '.join(ROLES)})")

    def add(self, name: str, role: str, password: str) -> None:
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        if not name.strip() or len(password) < 8:
            raise AuthError("a user needs a name and a password of at least 8 characters")
        salt = secrets.token_bytes(16)
        self.users[name] = {"role": role, "salt": salt.hex(), "hash": hash_password(password, salt)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"users": self.users}, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def check(self, name: str, password: str) -> str | None:
        """The user's role if the password is right, else None."""
        u = self.users.get(name)
        if u is None:
            hash_password(password, b"0" * 16)  # the same time whether or not the name exists
            return None
        if hmac.compare_digest(hash_password(password, bytes.fromhex(u["salt"])), u["hash"]):
            return u["role"]
        return None


class Sessions:
    """Cookies "name|role|expiry|hmac" signed with a key of this server's process."""

    def __init__(self, key: bytes | None = None):
        self.key = key or secrets.token_bytes(32)

    def _sign(self, body: str) -> str:
        return hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()

    def issue(self, name: str, role: str) -> str:
        body = f"{base64.urlsafe_b64encode(name.encode()).decode()}|{role}|{int(time.time()) + SESSION_S}"
        return f"{body}|{self._sign(body)}"

    def read(self, cookie: str | None) -> tuple[str, str] | None:
        """(name, role) of a valid unexpired cookie, else None."""
        if not cookie or cookie.count("|") != 3:
            return None
        body, sig = cookie.rsplit("|", 1)
        if not hmac.compare_digest(self._sign(body), sig):
            return None
        name, role, expiry = body.split("|")
        if not expiry.isdigit() or int(expiry) < time.time() or role not in ROLES:
            return None
        return base64.urlsafe_b64decode(name.encode()).decode(), role

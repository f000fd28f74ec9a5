"""Bearer tokens → team.

Every JobService call carries ``authorization: Bearer <token>`` metadata; the token names the
calling team, and a team sees only its own jobs and artefacts.

Tokens come from a file (``DYAD_GATEWAY_TOKENS_FILE``, mounted from a Kubernetes Secret) and/or
inline (``DYAD_GATEWAY_TOKENS``). The file is either JSON::

    {"red": ["tok-red-1…", "tok-red-2…"], "blue": ["sha256:9f86d0…"]}

or one ``team:token`` per line (blank lines and ``#`` comments ignored)::

    red:tok-red-1…
    blue:sha256:9f86d0…

A token written ``sha256:<64 hex>`` is the SHA-256 of the real token, so the file need not hold
secrets. Plain tokens must be at least 16 characters. Team names are 1–64 of ``[a-z0-9_-]``
(they become parts of Redis keys). Two rotation-friendly rules: a team may have several
tokens, and the file is re-read when its modification time or size changes.

Comparison is constant-time: the presented token's digest is compared with every known digest
(``hmac.compare_digest``) without stopping at a match, so timing reveals neither which token
nor how much of one matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from dyad.errors import ConfigError, Unauthenticated
from dyad.services.gateway.settings import PREFIX, GatewaySettings

log = logging.getLogger("dyad.gateway.auth")

TEAM_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_HASHED = re.compile(r"^sha256:([0-9a-f]{64})$")
MIN_TOKEN_CHARS = 16
AUTH_KEY = "authorization"
#: ``Bearer`` (any case), one space, a token of visible ASCII characters (RFC 6750 §2.1).
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] ([\x21-\x7e]+)")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_tokens(text: str, source: str) -> dict[str, list[str]]:
    """Team → tokens from a tokens file's text (JSON or ``team:token`` lines)."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(source, f"not valid JSON: {e}") from None
        ok = isinstance(data, dict) and all(
            isinstance(v, list) and all(isinstance(t, str) for t in v) for v in data.values()
        )
        if not ok:
            raise ConfigError(source, 'expected {"team": ["token", …]}')
        return {str(k): list(v) for k, v in data.items()}
    out: dict[str, list[str]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        team, sep, token = line.partition(":")
        if not sep:
            raise ConfigError(source, f"line {lineno}: expected team:token")
        out.setdefault(team.strip(), []).append(token.strip())
    return out


def parse_inline(value: str, source: str) -> dict[str, list[str]]:
    """Team → tokens from ``team:token,team:token``."""
    return parse_tokens("\n".join(p for p in value.split(",") if p.strip()), source)


class TokenTable:
    """Known token digests and their teams."""

    def __init__(self, teams: dict[str, list[str]], source: str) -> None:
        self.entries: list[tuple[bytes, str]] = []
        seen: dict[bytes, str] = {}
        for team, tokens in teams.items():
            if not TEAM_RE.match(team):
                raise ConfigError(source, f"team {team!r}: 1–64 of [a-z0-9_-]")
            for token in tokens:
                m = _HASHED.match(token)
                if m:
                    digest = bytes.fromhex(m.group(1))
                elif len(token) < MIN_TOKEN_CHARS:
                    raise ConfigError(
                        source, f"team {team!r}: tokens need at least {MIN_TOKEN_CHARS} characters"
                    )
                else:
                    digest = _digest(token)
                if seen.get(digest, team) != team:
                    raise ConfigError(
                        source, f"one token is given to {seen[digest]!r} and {team!r}"
                    )
                seen[digest] = team
                self.entries.append((digest, team))

    @property
    def teams(self) -> set[str]:
        return {team for _, team in self.entries}

    def team_for(self, token: str) -> str | None:
        presented = _digest(token)
        found: str | None = None
        for digest, team in self.entries:  # no early exit: constant time in the match
            if hmac.compare_digest(presented, digest):
                found = team
        return found


class Authenticator:
    """Resolves a call's metadata to its team; raises ``Unauthenticated`` otherwise."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.path = settings.tokens_file
        self._inline = (
            parse_inline(settings.tokens, f"{PREFIX}TOKENS") if settings.tokens.strip() else {}
        )
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self.table = self._build(self._read_file() if self.path else {})
        if not self.table.entries:
            raise ConfigError(
                f"{PREFIX}TOKENS_FILE", f"no tokens configured (set it or {PREFIX}TOKENS)"
            )

    def _read_file(self) -> dict[str, list[str]]:
        assert self.path is not None
        source = f"{PREFIX}TOKENS_FILE ({self.path})"
        try:
            st = self.path.stat()
            text = self.path.read_text()
        except OSError as e:
            raise ConfigError(source, f"cannot read: {e.strerror}") from None
        self._stamp = (st.st_mtime_ns, st.st_size)
        return parse_tokens(text, source)

    def _build(self, from_file: dict[str, list[str]]) -> TokenTable:
        merged: dict[str, list[str]] = {}
        for teams in (from_file, self._inline):
            for team, tokens in teams.items():
                merged.setdefault(team, []).extend(tokens)
        return TokenTable(merged, f"{PREFIX}TOKENS_FILE / {PREFIX}TOKENS")

    def _maybe_reload(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
        except OSError:
            return  # keep the last good table while a Secret is being swapped
        if (st.st_mtime_ns, st.st_size) == self._stamp:
            return
        with self._lock:
            try:
                self.table = self._build(self._read_file())
                log.info("tokens reloaded: %d teams", len(self.table.teams))
            except ConfigError as e:
                log.error("tokens file not reloaded, keeping the previous one: %s", e)

    def team_for_token(self, token: str) -> str:
        self._maybe_reload()
        team = self.table.team_for(token)
        if team is None:
            raise Unauthenticated("invalid bearer token")
        return team

    def authenticate(self, metadata: Iterable[tuple[str, Any]] | None) -> str:
        """The team of the call whose invocation metadata is ``metadata``.

        Exactly one ``authorization`` entry, exactly ``Bearer <token>``: the scheme (matched
        case-insensitively, RFC 7235 §2.1), one space, the token (visible ASCII), nothing else.
        Anything looser — two entries, extra or trailing whitespace — is refused, so a proxy in
        front and the gateway can never read one header as two different credentials.
        """
        values = [v for key, v in metadata or () if key.lower() == AUTH_KEY]
        if not values:
            raise Unauthenticated("missing `authorization: Bearer <token>` metadata")
        if len(values) > 1:
            raise Unauthenticated("more than one `authorization` metadata entry")
        value = values[0]
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        m = _BEARER.fullmatch(str(value))
        if m is None:
            raise Unauthenticated("authorization metadata must be exactly `Bearer <token>`")
        return self.team_for_token(m.group(1))

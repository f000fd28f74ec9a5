"""Bearer tokens → team: file formats, hashed tokens, rotation, refusals, the header's form."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from dyad.errors import ConfigError, Unauthenticated
from dyad.services.gateway.auth import Authenticator, parse_tokens
from dyad.services.gateway.settings import GatewaySettings

RED1, RED2, BLUE = "red-token-one-0123456", "red-token-two-0123456", "blue-token-0123456789"


def bearer(token: str) -> list[tuple[str, str]]:
    return [("x-request-id", "r1"), ("authorization", f"Bearer {token}")]


def test_json_and_line_files_and_hashed_tokens(tmp_path: Path) -> None:
    digest = hashlib.sha256(BLUE.encode()).hexdigest()
    as_json = tmp_path / "tokens.json"
    as_json.write_text(json.dumps({"red": [RED1, RED2], "blue": [f"sha256:{digest}"]}))
    as_lines = tmp_path / "tokens.txt"
    as_lines.write_text(f"# teams\nred:{RED1}\n\nred:{RED2}\nblue:sha256:{digest}\n")
    for path in (as_json, as_lines):
        auth = Authenticator(GatewaySettings(tokens_file=path))
        assert auth.authenticate(bearer(RED1)) == "red"
        assert auth.authenticate(bearer(RED2)) == "red"
        assert auth.authenticate(bearer(BLUE)) == "blue"
        assert auth.authenticate([("authorization", f"bearer {BLUE}".encode())]) == "blue"
        for md in ([], bearer("unknown-token-0123456"), [("authorization", RED1)], bearer(digest)):
            with pytest.raises(Unauthenticated):
                auth.authenticate(md)
    inline = Authenticator(GatewaySettings(tokens=f"red:{RED1}, blue:{BLUE}"))
    assert inline.authenticate(bearer(BLUE)) == "blue"


def test_the_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text(f"red:{RED1}\n")
    auth = Authenticator(GatewaySettings(tokens_file=path))
    assert auth.authenticate(bearer(RED1)) == "red"
    path.write_text(f"red:{RED2}\nblue:{BLUE}\n")  # rotated: RED1 revoked
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert auth.authenticate(bearer(RED2)) == "red"
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer(RED1))
    path.write_text("{not json")  # a broken update keeps the last good table
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert auth.authenticate(bearer(BLUE)) == "blue"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"red": "not-a-list"}', "expected"),
        ("{bad json", "not valid JSON"),
        ("red-without-colon", "line 1"),
        ("red:short", "at least 16"),
        (f"Red Team:{RED1}", "team 'Red Team'"),
        (f"red:{RED1}\nblue:{RED1}", "given to 'red' and 'blue'"),
        ("# nothing\n", "no tokens configured"),
    ],
)
def test_bad_token_files_name_the_setting(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        Authenticator(GatewaySettings(tokens_file=path))
    assert e.value.setting.startswith("DYAD_GATEWAY_TOKENS") and why in e.value.message


def test_missing_tokens_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        Authenticator(GatewaySettings(tokens_file=tmp_path / "absent"))
    assert "cannot read" in e.value.message
    assert parse_tokens("", "x") == {}


def test_the_header_must_be_exactly_bearer_space_token() -> None:
    """One canonical form: a proxy in front and the gateway never disagree on the token. The
    scheme is case-insensitive (RFC 7235 §2.1); whitespace and repetition are not."""
    auth = Authenticator(GatewaySettings(tokens=f"red:{RED1}"))
    for value in (f"Bearer {RED1}", f"bearer {RED1}", f"BEARER {RED1}"):
        assert auth.authenticate([("authorization", value)]) == "red"
    refused = {
        "double space": [("authorization", f"Bearer  {RED1}")],
        "trailing space": [("authorization", f"Bearer {RED1} ")],
        "leading space": [("authorization", f" Bearer {RED1}")],
        "tab": [("authorization", f"Bearer\t{RED1}")],
        "no token": [("authorization", "Bearer")],
        "two tokens": [("authorization", f"Bearer {RED1} {RED1}")],
        "two headers": [("authorization", f"Bearer {RED1}"), ("authorization", f"Bearer {RED1}")],
        "one bad, one good": [("authorization", "Bearer x"), ("Authorization", f"Bearer {RED1}")],
    }
    for case, md in refused.items():
        with pytest.raises(Unauthenticated) as e:
            auth.authenticate(md)
        assert RED1 not in e.value.message, case

"""The llm writer against a local server speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dyad.errors import ConfigError, DeadlineExceeded, InvalidInput, Unavailable
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.dialogue.writing.llm import LlmWriter
from dyad.services.dialogue.writing.writer import DialogueWriter
from dyad.testing import free_port

GOOD: dict[str, Any] = {
    "scenario": "casual",
    "environment": "cafe",
    "speakers": {
        "a": {"name": "Maya", "age_band": "adult", "gender_presentation": "feminine"},
        "b": {"name": "Tom", "age_band": "adult", "gender_presentation": "masculine"},
    },
    "relation": {"blood": False, "equal": True, "label": "friends"},
    "turns": [
        {
            "speaker": "ab"[i % 2],
            "sentences": [
                {"text": f"Line {i}.", "emotion": {"category": "happy", "intensity": 0.4}}
            ],
        }
        for i in range(6)
    ],
}


class FakeLLM:
    """Serves queued replies: a str is the message content, ("status", n) an HTTP error,
    ("sleep", s) a slow answer, ("raw", bytes) a non-OpenAI body. With no reply queued it
    answers ``respond(request body)``, by default the GOOD dialogue. ``bodies`` keeps every
    request as the bytes received."""

    def __init__(self, respond: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.replies: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.auth: list[str | None] = []
        self.respond = respond or (lambda body: json.dumps(GOOD))
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                fake.requests.append(body)
                fake.bodies.append(raw)
                fake.auth.append(self.headers.get("Authorization"))
                reply = fake.replies.pop(0) if fake.replies else fake.respond(body)
                if isinstance(reply, tuple) and reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = json.dumps(GOOD)
                if isinstance(reply, tuple) and reply[0] == "status":
                    self.send_response(reply[1])
                    self.end_headers()
                    return
                if isinstance(reply, tuple) and reply[0] == "raw":
                    data = reply[1]
                else:
                    data = json.dumps(
                        {"choices": [{"message": {"role": "assistant", "content": reply}}]}
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def writer(fake: FakeLLM, **kw: Any) -> DialogueWriter:
    s = DialogueSettings(
        llm_base_url=fake.url, llm_model="test-model", llm_api_key="k3y", llm_timeout_s=2.0
    )
    return DialogueWriter(s.__class__(**{**s.__dict__, **kw}))


def test_valid_reply_with_seed_and_temperature(llm: FakeLLM) -> None:
    (d,) = writer(llm).write("two friends plan a picnic", 1, seed=7, backend="llm", temperature=0.3)
    assert d.speaker_a.name == "Maya" and len(d.turns) == 6 and d.environment == "cafe"
    assert d.prompt == "two friends plan a picnic" and d.dialogue_id == "dlg-7-0"
    req = llm.requests[0]
    assert req["model"] == "test-model" and req["seed"] == 7 and req["temperature"] == 0.3
    assert req["messages"][-1]["content"].startswith("Prompt: two friends plan a picnic")
    assert llm.auth == ["Bearer k3y"]


def test_n_dialogues_get_distinct_seeds(llm: FakeLLM) -> None:
    out = writer(llm).write("a chat", 3, seed=10, backend="llm")
    assert [r["seed"] for r in llm.requests] == [10, 11, 12]
    assert [d.dialogue_id for d in out] == ["dlg-10-0", "dlg-10-1", "dlg-10-2"]


def test_malformed_json_is_repaired(llm: FakeLLM) -> None:
    bad_turns = dict(GOOD, turns=GOOD["turns"][:3])  # too few turns
    llm.replies = [
        "Sure! here it is: {not json",
        json.dumps(bad_turns),
        "```json\n" + json.dumps(GOOD) + "\n```",
    ]
    (d,) = writer(llm).write("x", 1, backend="llm")
    assert len(d.turns) == 6 and len(llm.requests) == 3
    repair = llm.requests[2]["messages"]
    assert repair[-2]["role"] == "assistant" and "3 turns; expected 5–10" in repair[-1]["content"]


def test_gives_up_after_the_repairs(llm: FakeLLM) -> None:
    llm.replies = ["nope"] * 5
    with pytest.raises(Unavailable) as e:
        writer(llm, llm_max_repairs=2).write("x", 1, backend="llm")
    assert "3 attempts" in str(e.value) and "no JSON object" in str(e.value)
    assert len(llm.requests) == 3


@pytest.mark.parametrize(
    ("reply", "error", "needle"),
    [
        (("status", 500), Unavailable, "HTTP 500"),
        (("raw", b"<html>oops</html>"), Unavailable, "OpenAI format"),
        (("raw", b'{"choices": []}'), Unavailable, "choices[0]"),
        (("sleep", 3.0), DeadlineExceeded, "within 2 s"),
    ],
)
def test_endpoint_failures(llm: FakeLLM, reply: Any, error: type, needle: str) -> None:
    llm.replies = [reply]
    with pytest.raises(error) as e:
        writer(llm).write("x", 1, backend="llm")
    assert needle in str(e.value) and llm.url in str(e.value)


def test_endpoint_down() -> None:
    w = LlmWriter(f"http://127.0.0.1:{free_port()}/v1", "m", timeout_s=2)
    with pytest.raises(Unavailable) as e:
        w.write_one("x", seed=0, temperature=0.5, dialogue_id="d")
    assert "unreachable" in str(e.value)


def test_missing_settings_name_the_variable() -> None:
    with pytest.raises(ConfigError) as e:
        DialogueWriter(DialogueSettings()).write("x", 1, backend="llm")
    assert e.value.setting == "DYAD_DIALOGUE_LLM_BASE_URL"


@pytest.mark.parametrize(
    ("prompt", "n", "backend", "field"),
    [
        ("", 1, "offline", "prompt"),
        ("   \n ", 1, "offline", "prompt"),
        ("x" * 4001, 1, "offline", "prompt"),
        ("bad\x00prompt", 1, "offline", "prompt"),
        ("bad\x1bprompt", 1, "offline", "prompt"),
        (b"\xff\xfe bytes", 1, "offline", "prompt"),
        ("ok", 0, "offline", "n"),
        ("ok", 65, "offline", "n"),
        ("ok", 1, "gpt", "backend"),
    ],
)
def test_bad_requests(prompt: Any, n: int, backend: str, field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        DialogueWriter(DialogueSettings()).write(prompt, n, backend=backend)
    assert e.value.field == field

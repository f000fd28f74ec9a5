"""The ``llm`` dialogue writer: any OpenAI-compatible chat-completions endpoint.

Covers vLLM, Ollama, llama.cpp's server and hosted APIs. Each dialogue is one request asking
for JSON in our schema (``model.Dialogue``); the reply is parsed and validated, and on invalid
output the model is shown its error and asked again, at most ``max_repairs`` times. Endpoint
down → ``Unavailable``; slower than the timeout → ``DeadlineExceeded``; still invalid after the
repairs → ``Unavailable`` quoting the last validation error. Seeds and temperature pass through.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any

from dyad.domain import (
    EMOTIONS,
    ENVIRONMENTS,
    MAX_TURNS,
    MIN_TURNS,
    SCENARIOS,
    Dialogue,
    Relation,
)
from dyad.errors import ConfigError, DeadlineExceeded, InvalidInput, Unavailable

log = logging.getLogger("dyad.dialogue.llm")

_SENTENCE = '{"text": "...", "emotion": {"category": EMOTION, "intensity": 0..1}}'
_IDENTITY = (
    '{"name": "...", "age_band": "child|teen|young_adult|adult|senior", '
    '"gender_presentation": "feminine|masculine|androgynous", '
    '"appearance": ["..."], "personality": "..."}'
)
SCHEMA_HINT = "\n".join(
    [
        "Reply with one JSON object and nothing else:",
        f'{{"scenario": one of {list(SCENARIOS)}, "environment": one of {list(ENVIRONMENTS)},',
        ' "speakers": {"a": IDENTITY, "b": IDENTITY},',
        ' "relation": {"blood": true|false, "equal": true|false, "label": "mother and son"},',
        f' "turns": [{{"speaker": "a"|"b", "sentences": [{_SENTENCE}]}}]}}',
        f"IDENTITY = {_IDENTITY}",
        f"EMOTION = one of {list(EMOTIONS)}",
        f"Rules: {MIN_TURNS} to {MAX_TURNS} turns; speakers alternate, starting with a;",
        "1-3 sentences per turn; the two names differ; blood = family relation;",
        "equal = neither has authority over the other.",
    ]
)

SYSTEM = (
    "You write natural two-person spoken dialogues for animated talking heads. "
    "They talk about the user's prompt, reply to what the other just said, and sound spoken, "
    "not written. " + SCHEMA_HINT
)


def _extract_json(text: str) -> Any:
    """The JSON object in a reply, tolerating code fences and chatter around it."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the reply")
    return json.loads(text[start : end + 1])


class LlmWriter:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        timeout_s: float = 60.0,
        max_repairs: int = 2,
        setting_prefix: str = "DYAD_DIALOGUE_",
    ) -> None:
        if not base_url:
            raise ConfigError(
                f"{setting_prefix}LLM_BASE_URL", "not set: the llm writer needs an endpoint"
            )
        if not model:
            raise ConfigError(f"{setting_prefix}LLM_MODEL", "not set: name the model to ask")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key = model, api_key
        self.timeout_s, self.max_repairs = timeout_s, max_repairs

    def _post(self, body: dict[str, Any]) -> str:
        req = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                payload = json.loads(resp.read())
        except TimeoutError as e:
            raise DeadlineExceeded(
                f"LLM endpoint {self.url} did not answer within {self.timeout_s:g} s"
            ) from e
        except urllib.error.HTTPError as e:
            raise Unavailable(f"LLM endpoint {self.url} answered HTTP {e.code}") from e
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError | socket.timeout):
                raise DeadlineExceeded(
                    f"LLM endpoint {self.url} did not answer within {self.timeout_s:g} s"
                ) from e
            raise Unavailable(f"LLM endpoint {self.url} unreachable: {e.reason}") from e
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise Unavailable(f"LLM endpoint {self.url} did not answer in the OpenAI format") from e
        try:
            return str(payload["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as e:
            raise Unavailable(f"LLM endpoint {self.url} answer has no choices[0].message") from e

    def write_one(
        self,
        prompt: str,
        *,
        seed: int,
        temperature: float,
        dialogue_id: str,
        scenario: str | None = None,
        relation: Relation | None = None,
        turns: tuple[int, int] | None = None,
    ) -> Dialogue:
        wishes = []
        if turns is not None:
            wishes.append(f"Write {turns[0]} to {turns[1]} turns.")
        if scenario:
            wishes.append(f"The scenario family is {scenario}.")
        if relation is not None:
            wishes.append(f"Their relation: blood={relation.blood}, equal={relation.equal}.")
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Prompt: {prompt}\n{' '.join(wishes)}".strip()},
        ]
        error = ""
        for attempt in range(self.max_repairs + 1):
            body = {
                "model": self.model,
                "messages": messages,
                "temperature": temperature,
                "seed": seed,
                "response_format": {"type": "json_object"},
            }
            reply = self._post(body)
            try:
                raw = _extract_json(reply)
                raw.setdefault("environment", "studio")
                raw.update(dialogue_id=dialogue_id, prompt=prompt, seed=seed)
                dialogue = Dialogue.from_dict(raw)
                if relation is not None:
                    dialogue = replace(dialogue, relation=relation)
                return dialogue
            except (ValueError, InvalidInput, AttributeError, TypeError) as e:
                error = str(e)
                log.info("LLM reply invalid (attempt %d): %s", attempt + 1, error)
                messages += [
                    {"role": "assistant", "content": reply},
                    {
                        "role": "user",
                        "content": f"That was not valid: {error}. "
                        "Reply with the corrected JSON object only.",
                    },
                ]
        raise Unavailable(
            f"LLM endpoint {self.url} gave no valid dialogue in {self.max_repairs + 1} "
            f"attempts; last error: {error}"
        )

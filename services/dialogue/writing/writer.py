"""``DialogueWriter``: prompt → N dialogues (CHAT TDG), offline composer or an LLM."""

from __future__ import annotations

from dyad.domain import MAX_TURNS, MIN_TURNS, SCENARIOS, Dialogue, Relation
from dyad.errors import InvalidInput
from dyad.services.dialogue.settings import WRITERS, DialogueSettings
from dyad.services.dialogue.writing.composer import OfflineComposer


def check_prompt(prompt: object, max_chars: int) -> str:
    """The prompt if usable: UTF-8 text, not blank, ≤ ``max_chars``, no control characters."""
    if isinstance(prompt, bytes):
        try:
            prompt = prompt.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("prompt", "not valid UTF-8") from None
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt", "empty prompt")
    if len(prompt) > max_chars:
        raise InvalidInput("prompt", f"{len(prompt)} characters; at most {max_chars}")
    if any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in prompt):
        raise InvalidInput("prompt", "control characters are not allowed")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in prompt):
        raise InvalidInput("prompt", "not valid UTF-8 (lone surrogate)")
    return prompt.strip()


class DialogueWriter:
    def __init__(self, settings: DialogueSettings) -> None:
        self.settings = settings

    def write(
        self,
        prompt: object,
        n: int = 1,
        *,
        seed: int = 0,
        backend: str = "",
        temperature: float = 0.8,
        scenario: str | None = None,
        relation: Relation | None = None,
        turns: tuple[int, int] | None = None,
    ) -> list[Dialogue]:
        """``n`` dialogues about ``prompt``; ``turns`` (min, max) narrows the 5–10 range."""
        text = check_prompt(prompt, self.settings.max_prompt_chars)
        if turns is not None and not MIN_TURNS <= turns[0] <= turns[1] <= MAX_TURNS:
            raise InvalidInput(
                "turns", f"{turns[0]}–{turns[1]}; expected within {MIN_TURNS}–{MAX_TURNS}"
            )
        if not 1 <= n <= self.settings.max_dialogues:
            raise InvalidInput("n", f"{n} dialogues; expected 1–{self.settings.max_dialogues}")
        backend = backend or self.settings.writer
        if backend not in WRITERS:
            raise InvalidInput(
                "backend", f"unknown writer {backend!r}; expected one of {list(WRITERS)}"
            )
        if scenario is not None and scenario not in SCENARIOS:
            raise InvalidInput("scenario", f"{scenario!r} is not one of {list(SCENARIOS)}")
        if not 0.0 <= temperature <= 2.0:
            raise InvalidInput("temperature", "between 0 and 2")
        if backend == "offline":
            return OfflineComposer().write(
                text, n, seed, scenario=scenario, relation=relation, turns=turns
            )
        from dyad.services.dialogue.writing.llm import LlmWriter  # optional backend: on demand

        s = self.settings
        llm = LlmWriter(
            s.llm_base_url,
            s.llm_model,
            api_key=s.llm_api_key,
            timeout_s=s.llm_timeout_s,
            max_repairs=s.llm_max_repairs,
        )
        return [
            llm.write_one(
                text,
                seed=seed + k,
                temperature=temperature,
                dialogue_id=f"dlg-{seed}-{k}",
                scenario=scenario,
                relation=relation,
                turns=turns,
            )
            for k in range(n)
        ]

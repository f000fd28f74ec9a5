"""The phrasebook file (writing/phrasebook.toml): loaded once, checked on load, broken entries
rejected with the file and the entry named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dyad.services.dialogue.writing import phrasebook as pb
from dyad.services.dialogue.writing.phrasebook import PATH, PhrasebookError, load

SHIPPED = PATH.read_text(encoding="utf-8")


def broken(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped phrasebook with one edit."""
    assert SHIPPED.count(old) == 1, old
    path = tmp_path / "phrasebook.toml"
    path.write_text(SHIPPED.replace(old, new), encoding="utf-8")
    return path


def test_the_shipped_phrasebook_is_the_loaded_one() -> None:
    book = load()
    assert book == pb.BOOK and pb.T is pb.BOOK.templates
    assert len(book.templates) > 150 and sum(map(len, book.templates.values())) > 400
    assert book.templates["GREET/elder"][0] == "[happy .4] Hi, {addr}. You're home early."
    assert pb.REGISTER_OF["shop assistant"] == "service"
    assert ("REACT", "emotional") in pb.FAMILY_ONLY and "the" in pb.STOP


GREETING = '"[happy .4] Hi, {addr}. You\'re home early.",'
BROKEN = [
    # (what is replaced, by what, the entry named, the problem)
    (GREETING, GREETING.replace("{addr}", "{adress}"), 'templates."GREET/elder"[0]', "{adress}"),
    (GREETING, GREETING.replace("{addr}", "{ADDR}"), 'templates."GREET/elder"[0]', "{ADDR}"),
    (GREETING, GREETING.replace("{addr}", "{addr!r}"), 'templates."GREET/elder"[0]', "format"),
    (GREETING, GREETING.replace("{addr}", "{addr"), 'templates."GREET/elder"[0]', "'}'"),
    (GREETING, GREETING.replace("happy", "hapy"), 'templates."GREET/elder"[0]', "'hapy'"),
    (GREETING, GREETING.replace(".4", "4"), 'templates."GREET/elder"[0]', "outside [0, 1]"),
    (GREETING, GREETING.replace(".4", "0.4.1"), 'templates."GREET/elder"[0]', "not a number"),
    (GREETING, GREETING.replace("[happy .4]", "[happy]"), 'templates."GREET/elder"[0]', "tag"),
    (GREETING, GREETING.replace("[happy .4] ", "[happy .4]  "), "GREET/elder", "blanks"),
    ('"GREET/elder" = [', '"GREET/eldr" = [', 'templates."GREET/eldr"', "'eldr'"),
    ('"GREET/elder" = [', '"greet/elder" = [', 'templates."greet/elder"', "ACT"),
    ('numb = "sad"', 'numb = "glum"', "feelings.emotional.numb", "'glum'"),
    ('professional = ["office", "cafe"]', 'professional = ["office", "attic"]', "environments", ""),
    ('HOLD = ["ACK"]', 'HOLD = ["NOD"]', "acts.responses.HOLD", "'NOD' has no templates"),
    ('customer = ["customer"]', 'customer = ["customer", "waiter"]', "registers.customer", ""),
    ('casual = "plans for the weekend"\n', "", "fallback_topics", "missing ['casual']"),
    ("[fallback_topics]", "[fallback_topic]", "fallback_topic", "unknown section"),
    ('people = "woman', 'peple = "woman', "words.peple", "unknown list"),
    ("time_words = [", "time_words = [\n    '(?:on ',", "words.time_words", "regular expression"),
    (GREETING, GREETING + " 42,", 'templates."GREET/elder"[1]', "non-empty string"),
    ('"GREET/elder" = [', '"GREET/elder" = [[', "(file)", "not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "entry", "problem"), BROKEN)
def test_a_broken_entry_is_rejected_naming_file_and_entry(
    tmp_path: Path, old: str, new: str, entry: str, problem: str
) -> None:
    path = broken(tmp_path, old, new)
    with pytest.raises(PhrasebookError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert entry in err.value.entry and problem in message, message


def test_the_message_says_what_is_wrong_and_where() -> None:
    err = PhrasebookError(Path("/x/phrasebook.toml"), 'templates."GREET/elder"[0]', "oops")
    assert str(err) == '/x/phrasebook.toml: templates."GREET/elder"[0]: oops'
    assert err.code == "INTERNAL"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PhrasebookError, match=re.escape(str(path))):
        load(path)

"""The dialogue-act plan of an offline dialogue: which acts each turn performs.

Each turn answers the partner's last act and then (but the last turn) starts one of its own:
greet → raise the topic → ask → answer → react → worry/disagree → propose → accept/object →
close. The plan depends on the first speaker's register, the scenario family, whether the topic
is something that happens on a date, and whose matter it is.
"""

from __future__ import annotations

import random

from dyad.services.dialogue.writing import phrasebook as pb
from dyad.services.dialogue.writing.topic import Topic


def plan_acts(
    rng: random.Random, n: int, reg_a: str, family: str, topic: Topic, owner: str
) -> list[list[str]]:
    """Acts per turn: each turn answers the partner's last act, then (but the last) starts one.
    Speaker a raises the topic; ``owner`` is the speaker whose matter it is (who gets asked how
    they feel and what they need)."""
    r = rng.random()
    if reg_a == "stranger" and n >= 6:
        turns = [["GREET"], ["GREET_BACK", "INTRO"], ["INTRO_BACK", "RAISE"]]
    elif n >= 6 and r < 0.3 and reg_a not in ("service", "customer", "stranger", "interviewer"):
        turns = [["GREET", "CHECK"], ["WHATSUP"], ["RAISE"]]
    elif r < 0.55 and reg_a in ("close", "intimate", "work_peer"):
        turns = [["RAISE"]]
    else:
        turns = [["GREET", "RAISE"]]
    if owner == "a" and rng.random() < 0.35:
        turns[-1].append("ELAB")
    k = n - len(turns) - 1  # acts started in the middle turns; the last is the final proposal
    to_owner = ["ASK_OPINION", "ASK_FEEL"] + ["ASK_NEED"] * (family not in ("casual", "social"))
    service = reg_a in ("service", "customer", "interviewer", "candidate")
    to_owner += ["ASK_SINCE"] * (not topic.event and family in ("emotional", "professional"))
    to_any = ["ASK_WHEN"] * topic.eventish
    seq: list[str] = []
    while len(seq) < k - 1:
        speaker, room = ("b", "a")[len(seq) % 2], k - 1 - len(seq)
        options = to_any + (to_owner if speaker != owner else []) + ["WORRY", "OPINION"]
        options += ["NEWS"] * (not service)
        options = [o for o in options if o not in seq]
        if not seq:
            options = [o for o in options if o.startswith("ASK")] + ["WORRY"] * (speaker == owner)
        elif room == 1 and not {"WORRY", "OPINION"} & set(seq):
            options = ["WORRY", "OPINION"]
        elif seq[-1].startswith("ASK") and rng.random() < 0.4:
            options = ["HOLD"]  # the answer stands on its own; the partner picks it up
        elif room >= 3 and "PROPOSE_X" not in seq and rng.random() < 0.35:
            options = ["PROPOSE_X"]
        act = rng.choice(options or ["OPINION"])
        seq += [act, "COUNTER"] if act == "PROPOSE_X" else [act]
    seq.append("WRAP" if "COUNTER" in seq and rng.random() < 0.5 else "PROPOSE")
    turns.append(["GREET_BACK"] if turns == [["GREET", "RAISE"]] and rng.random() < 0.5 else [])
    pending = "RAISE"
    for act in seq:
        turns[-1] += _respond(rng, pending)
        if act != "HOLD":
            turns[-1].append(act)
        turns.append([])
        pending = act
    turns[-1] += [*_respond(rng, pending), "BYE"]
    return turns


def _respond(rng: random.Random, act: str) -> list[str]:
    if act == "WORRY":
        return ["REASSURE"] if rng.random() < 0.65 else ["SHARE_WORRY"]
    if act == "OPINION":
        return ["AGREE"] if rng.random() < 0.45 else ["DISAGREE", "DISAGREE_WHY"]
    return list(pb.RESPONSES.get(act, []))

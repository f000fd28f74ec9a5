"""The conversation domain shared by every stage (DESIGN.md §2–§3).

- ``conversation``: identities, relation, emotions, dialogues, segments and the timeline, with
  JSON round trips and validation that names the offending field;
- ``stored``: a spoken conversation and audio features as references into the artefact store.

Proto conversion lives in ``dyad.protoconv``; services import these types from here and never
from each other.
"""

from dyad.domain.conversation import (
    AGE_BANDS,
    EMOTIONS,
    ENVIRONMENTS,
    GENDERS,
    INTERACTIVE_WORDS,
    MAX_TURNS,
    MIN_TURNS,
    SCENARIOS,
    SPEAKERS,
    Dialogue,
    Emotion,
    Identity,
    Relation,
    Segment,
    Sentence,
    SpeakerId,
    Timeline,
    Turn,
    parse_turn_range,
)
from dyad.domain.stored import StoredConversation, StoredFeatures

__all__ = [
    "AGE_BANDS",
    "EMOTIONS",
    "ENVIRONMENTS",
    "GENDERS",
    "INTERACTIVE_WORDS",
    "MAX_TURNS",
    "MIN_TURNS",
    "SCENARIOS",
    "SPEAKERS",
    "Dialogue",
    "Emotion",
    "Identity",
    "Relation",
    "Segment",
    "Sentence",
    "SpeakerId",
    "StoredConversation",
    "StoredFeatures",
    "Timeline",
    "Turn",
    "parse_turn_range",
]

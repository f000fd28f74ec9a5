"""Speaking dialogues (CHAT DADG + IAR): a dialogue → two speaker tracks on one timeline.

``voices`` gives each identity a voice and each emotion its prosody; ``engines`` synthesises
sentences (espeak-ng, or an OpenAI-compatible speech endpoint); ``refinement`` (IAR) sets the
pauses and prosody jitter and times the listener's interactive words; ``acoustics`` puts both
voices in one room; ``conversation`` (DADG) lays it all out and writes the tracks, the mix and
``timeline.json``.
"""

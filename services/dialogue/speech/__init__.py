"""Speaking dialogues (CHAT DADG + IAR): a dialogue → two speaker tracks on one timeline.

``prosody`` is the one emotion → sound table; ``engines`` synthesise sentences (Piper, RHVoice,
flite, espeak-ng, an OpenAI-compatible endpoint); ``casting`` gives each speaker a voice
(``voices`` describes them); ``dsp`` applies the prosody an engine lacks; ``voicebox`` ties
engines, casting and dsp together; ``refinement`` (IAR) sets the pauses and prosody jitter and
times the listener's interactive words; ``acoustics`` puts both voices in one room;
``layout`` lays sentences and words on one timeline (a serial reference and a pipelined path);
``conversation`` (DADG) puts it all together and writes the tracks, the mix and ``timeline.json``.
"""

"""Audio encoding: waveform → features aligned to motion frames (DualTalk §4.2)."""

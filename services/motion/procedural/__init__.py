"""The procedural conversational animator: rule-based lips, blinks, gaze, head motion, listener
nods and reactions (``animator``), its behaviour rules (``behaviour``) and signal helpers
(``signal``). The motion service's fast default and the teacher of the synthetic corpus."""

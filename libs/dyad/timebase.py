"""The pipeline's two clocks (DESIGN.md §2), defined here and nowhere else.

Audio is float32 mono at ``SAMPLE_RATE`` per speaker (every track, every encoder); motion and
video run at ``FPS``. One motion frame is exactly ``SAMPLES_PER_FRAME`` samples.
"""

#: Audio samples per second of every track and encoder input (DESIGN.md §2).
SAMPLE_RATE = 16_000
#: Motion and video frames per second (DualTalk; DESIGN.md §2).
FPS = 25
#: Audio samples per motion frame (640).
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS

"""RSATalker stage 3: joint training of the motion model and the avatar (``train.py``)."""

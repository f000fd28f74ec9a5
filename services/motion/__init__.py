"""Dual-speaker motion: the procedural animator (``procedural``) and the neural model
(``neural``) behind one service (``core``, ``servicer``, ``deployment``)."""

"""Corpora in DualTalk's layout: writing (``layout``) and reading (``reader``) them.

Shared by the synthetic corpus (``dyad dataset synth``), a job's dataset export and training;
no service owns the format.
"""

"""The neural motion model: DualTalk with RSATalker's social fusion (``model``, its
hyper-parameters ``config`` and modules ``parts``), whole-clip inference (``generate``), the
authors' released checkpoint (``released``) and the service's backend over checkpoints
(``backend``: a small cache, inputs checked before any work, generation of both speakers)."""

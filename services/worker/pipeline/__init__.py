"""The pipeline: the orchestrator over the stage protocol, its two implementations (embedded
cores, served services), the job runner the batch workers run, and ``dyad generate`` /
``dyad animate``."""

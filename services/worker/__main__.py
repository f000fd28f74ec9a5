"""``python -m dyad.services.worker``: one batch worker process (``dyad worker``)."""

from dyad.services.worker.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

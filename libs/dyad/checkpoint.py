"""Model directories as every neural stage keeps them (DESIGN §4): ``config.json`` (the
hyperparameters) beside ``model.safetensors`` (the weights), each written atomically; which
directory a request's ``model_id`` names (``resolve_model_dir``); and the one cache of loaded
models a process keeps (``ModelCache``: checkpoints, avatars).

Loading turns every problem — a missing directory or file, an unreadable or invalid config,
unreadable weights, a missing, unexpected or mis-shaped tensor — into one ``ConfigError``
naming the setting that points at the directory. torch and safetensors load on first use.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from dyad.errors import ConfigError, InvalidInput
from dyad.media.audio import atomic_output

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
T = TypeVar("T")


def resolve_model_dir(
    model_id: str, *, default: Path, configured: Path | None, models_root: Path | None, prefix: str
) -> tuple[Path, str]:
    """The directory for ``model_id`` and the setting that names it: "" → ``configured``
    (``<prefix>MODEL_DIR``) or the bundled ``default``; an id → ``<prefix>MODELS_ROOT/<id>``."""
    if not model_id:
        return configured or default, f"{prefix}MODEL_DIR"
    if not _MODEL_ID.match(model_id):
        raise InvalidInput("model_id", "1–128 of [A-Za-z0-9_.-], starting with a letter or digit")
    if models_root is None:
        raise ConfigError(f"{prefix}MODELS_ROOT", f"not set: cannot resolve model_id {model_id!r}")
    return models_root / model_id, f"{prefix}MODELS_ROOT"


class ModelCache(Generic[T]):
    """A small LRU of loaded models, keyed by where they came from; thread-safe.

    A model loads once: concurrent requests for the same key wait for the one load, while hits
    on other keys go on (loads run outside the cache's own lock).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:  # loaded by the request we waited for
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                item = load()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._items[key] = item
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
            return item

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def atomic_write(dest: Path, write: Callable[[Path], object]) -> None:
    """Write ``dest`` through a temporary file in its directory and ``os.replace``."""
    with atomic_output(dest) as tmp:
        write(Path(tmp))


def save_pretrained(model: Any, config: dict[str, Any], directory: str | Path) -> Path:
    """Write ``model``'s state dict and ``config`` into ``directory`` (each atomically)."""
    from safetensors.torch import save_file

    path = Path(directory).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path / WEIGHTS_FILE, lambda p: save_file(state, str(p), {"format": "pt"}))
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    atomic_write(path / CONFIG_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def load_pretrained(
    directory: str | Path,
    *,
    setting: str,
    what: str,
    config_from_dict: Callable[[dict[str, Any]], Any],
    build: Callable[[Any], Any],
    device: Any = "cpu",
    meta_init: bool = False,
) -> Any:
    """Build ``build(config)`` and load its weights (eval mode, on ``device``).

    ``what`` names the directory in messages (e.g. "motion model"). ``meta_init`` builds on
    the meta device and assigns the file's tensors (no random init); only for models whose
    every buffer is in the state dict.
    """
    import torch
    from safetensors.torch import load_file

    path = Path(directory).expanduser()
    if not path.is_dir():
        raise ConfigError(setting, f"{what} directory {path} does not exist")
    cfg_path, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not cfg_path.is_file():
        raise ConfigError(setting, f"no {CONFIG_FILE} in {what} directory {path}")
    try:
        config = config_from_dict(json.loads(cfg_path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, InvalidInput, TypeError) as exc:
        raise ConfigError(setting, f"bad {cfg_path}: {exc}") from exc
    if not weights.is_file():
        raise ConfigError(setting, f"no {WEIGHTS_FILE} in {what} directory {path}")
    try:
        state = load_file(str(weights), device="cpu")
    except Exception as exc:  # safetensors raises SafetensorError, OSError, ...
        raise ConfigError(setting, f"unreadable {weights}: {exc}") from exc
    if meta_init:
        with torch.device("meta"):
            model = build(config)
    else:
        model = build(config)
    try:
        model.load_state_dict(state, strict=True, assign=meta_init)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:400]
        raise ConfigError(setting, f"{weights} does not fit its config: {first}") from exc
    return model.to(device).eval()

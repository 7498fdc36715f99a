"""Rewrite shipped ``.keras`` files so that every Keras release the project allows can load them.

Keras loads files written by older releases, not always files written by newer ones: a newer
release saves config fields that an older one rejects (``Dense``'s ``quantization_config``, an
initializer's ``input_axes``...). So the shipped models are written by the *oldest* allowed Keras.

Run it with that Keras (``make portable-models`` does, in ``.venv-oldest``)::

    python tools/portable_models.py pretrained/*/*.keras

For each file it drops the config fields the running Keras does not know, but only where they
leave the model unchanged: ``None`` or ``False`` (a newer feature left off), or a setting of a
feature that is off (``renorm_momentum`` without ``renorm``); any other value stops with an error.
Then it loads the model with ``safe_mode=True``, checks that a re-saved copy
predicts exactly the same on a fixed batch, and only then replaces the file (atomically).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

import sgan_helpers  # noqa: F401  (registers the project's custom layers, e.g. UniformLatent)

# Settings that only act when another field switches their feature on.
ONLY_WITH = {"renorm_momentum": "renorm", "renorm_clipping": "renorm"}


def _accepted(cls: type) -> set[str]:
    """Keyword arguments a Keras class's constructor takes, over its whole class hierarchy."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= {p.name for p in inspect.signature(init).parameters.values()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names - {"self"}


def _resolve(entry: dict) -> type | None:
    module, name = entry.get("module"), entry.get("class_name")
    if entry.get("registered_name") or not isinstance(module, str) or not module.startswith("keras"):
        return None  # the project's own layers: their config is ours, the same in every release
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise SystemExit(f"error: Keras {keras.__version__} has no {module}.{name}; "
                         "this file needs a newer Keras than the floor") from err


def strip_unknown(node: Any, dropped: list[str]) -> Any:
    """``node`` (a saved config) without the fields the running Keras does not know."""
    if isinstance(node, list):
        return [strip_unknown(item, dropped) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strip_unknown(value, dropped) for key, value in node.items()}
    if "class_name" in node and isinstance(node.get("config"), dict):
        cls = _resolve(node)
        if cls is not None and not issubclass(cls, keras.Model):
            known, original = _accepted(cls), dict(node["config"])
            for key in [k for k in original if k not in known]:
                idle = key in ONLY_WITH and not original.get(ONLY_WITH[key])
                if original[key] not in (None, False) and not idle:
                    raise SystemExit(f"error: {node['class_name']}.{key} = {node['config'][key]!r} "
                                     f"has no equivalent in Keras {keras.__version__}")
                del node["config"][key]
                dropped.append(f"{node['class_name']}.{key}")
    return node


def _probe(model: keras.Model) -> np.ndarray:
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (16, *shape)).astype("float32")
    return np.asarray(model.predict(x, verbose=0))


def make_portable(path: Path) -> str:
    """Rewrite ``path`` with the running Keras; return a one-line account."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    before = json.loads(members["metadata.json"])["keras_version"]
    dropped: list[str] = []
    config = strip_unknown(json.loads(members["config.json"]), dropped)
    with tempfile.TemporaryDirectory() as tmp:
        stripped = Path(tmp) / "stripped.keras"
        with zipfile.ZipFile(stripped, "w") as archive:
            for name, blob in members.items():
                archive.writestr(name, json.dumps(config) if name == "config.json" else blob)
        model = keras.saving.load_model(stripped, safe_mode=True)
        resaved = Path(tmp) / "resaved.keras"
        model.save(resaved)
        again = keras.saving.load_model(resaved, safe_mode=True)
        if not np.array_equal(_probe(model), _probe(again)):
            raise SystemExit(f"error: {path}: the re-saved copy predicts differently; file left as it was")
        staged = path.with_name(path.name + ".tmp")
        staged.write_bytes(resaved.read_bytes())
        os.replace(staged, path)
    kinds = ", ".join(sorted(set(dropped))) or "none"
    return f"{path}: Keras {before} -> {keras.__version__}; dropped {len(dropped)} fields ({kinds})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help=".keras files to rewrite in place")
    args = parser.parse_args(argv)
    for path in args.files:
        if not path.is_file() or not zipfile.is_zipfile(path):
            parser.error(f"{path}: not a .keras file; give the path of a saved model")
        print(make_portable(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())

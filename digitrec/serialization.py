"""Save and load models with skops, trusting only an explicit, checked list of types.

A skops file names every type it needs. We record the types outside skops' default
trust in ``config.json`` at save time; at load time the file must name exactly those,
and each must be a class of scikit-learn, numpy or scipy, or a class or function of
digitrec itself, named where it is defined (not a name another module imported).
Anything else (``os.system``, ``builtins.eval``, ``digitrec.hub.HfApi``...) means the
file is never loaded.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import skops.io as sio

from digitrec.errors import UntrustedModelError

#: Top-level packages whose classes a model file may reference.
ALLOWED_PACKAGES = ("sklearn", "numpy", "scipy", "digitrec")


def save_model(model: Any, path: str | Path) -> list[str]:
    """Write ``model`` to a compressed skops file; return the types it needs trusted."""
    import zipfile

    sio.dump(model, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    required = untrusted_types(path)
    refused = [name for name in required if not is_allowed(name)]
    if refused:
        raise UntrustedModelError(f"Model references types outside the allowlist: {', '.join(refused)}")
    return required


def untrusted_types(path: str | Path) -> list[str]:
    """Types named in the skops file that skops does not trust by default, sorted."""
    try:
        return sorted(sio.get_untrusted_types(file=path))
    except Exception as exc:
        raise UntrustedModelError(f"{path}: not a readable skops file ({exc})") from exc


def is_allowed(type_name: str) -> bool:
    """True for classes defined in the allowed packages, and functions defined in digitrec.

    The object must come from the package it is named under: a module re-exports what it
    imports (``digitrec.hub.HfApi`` is huggingface_hub's), and a module is no type at all.
    """
    module_name, _, attribute = type_name.rpartition(".")
    root = module_name.split(".")[0]
    if root not in ALLOWED_PACKAGES or not attribute:
        return False
    try:
        obj = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    defined_in = str(getattr(obj, "__module__", "")).split(".")[0]
    if defined_in != root:
        return False
    return isinstance(obj, type) or (root == "digitrec" and inspect.isfunction(obj))


def load_model_file(path: str | Path, declared: list[str]) -> Any:
    """Load a skops file after checking its types against ``declared`` and the allowlist.

    Raises :class:`UntrustedModelError` naming the offending types; the file is not
    deserialized in that case.
    """
    found = untrusted_types(path)
    refused = sorted(name for name in found if not is_allowed(name))
    undeclared = sorted(set(found) - set(declared))
    if refused or undeclared:
        names = ", ".join(sorted(set(refused) | set(undeclared)))
        raise UntrustedModelError(
            f"{Path(path).name} refused: it references types that are not on the allowlist "
            f"or not declared in config.json: {names}"
        )
    return sio.load(path, trusted=found)

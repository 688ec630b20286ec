"""Loading HEAR modules (EVAL.md §1): import by name, pick a device, load and place the model.

Only PyTorch models are supported: a HEAR module whose ``load_model`` returns a TensorFlow
``tf.Module`` is rejected with a clear error (heareval 2021 supported TF; we do not, so that
TensorFlow need not be installed next to a CUDA build of torch).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from hearcore.hashing import file_sha256

HEAR_FUNCTIONS = ("load_model", "get_timestamp_embeddings", "get_scene_embeddings")


class NotATorchModelError(TypeError):
    """``load_model`` returned something that is not a ``torch.nn.Module``."""


def import_module(name: str) -> ModuleType:
    """Imports a HEAR module by its dotted name.

    Args:
        name: e.g. ``"heareval.models.naive"`` or ``"hearbaseline.torchcrepe"``.

    Returns:
        The imported module.

    Raises:
        ImportError: naming the module and the underlying reason.
    """
    try:
        return importlib.import_module(name)
    except Exception as exc:  # any failure while executing the module's top level
        raise ImportError(
            f"cannot import HEAR module {name}: {type(exc).__name__}: {exc}; is it installed? "
            f"(pip install the package that provides {name.split('.')[0]!r})"
        ) from exc


def pick_device(requested: str | None = None) -> torch.device:
    """Chooses the device for a model.

    Args:
        requested: a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or None for CUDA
            when available, else CPU.

    Returns:
        The ``torch.device``.

    Raises:
        ValueError: the string is not a device name.
        RuntimeError: CUDA was asked for but is not available (or the index does not exist).
    """
    if requested is None or requested == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {requested!r}; use 'cpu', 'cuda' or 'cuda:N'") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {requested!r} requested but CUDA is not available to torch "
                f"{torch.__version__}; use --device cpu or install a CUDA build of torch"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {requested!r} requested but only {torch.cuda.device_count()} CUDA "
                "device(s) are visible"
            )
    return device


def call_load_model(module: ModuleType, weights: str | Path | None, options: dict | None) -> Any:
    """Calls ``module.load_model`` the way heareval 2021 did (path first, then the options)."""
    load = getattr(module, "load_model", None)
    if not callable(load):
        raise AttributeError(
            f"HEAR module {module.__name__} has no load_model function; a HEAR module must define "
            "load_model, get_timestamp_embeddings and get_scene_embeddings at module level"
        )
    options = dict(options or {})
    if weights:
        return load(str(weights), **options)
    return load(**options)


def check_torch_model(model: Any, module_name: str) -> torch.nn.Module:
    """Returns ``model`` if it is a ``torch.nn.Module``, else raises NotATorchModelError."""
    if isinstance(model, torch.nn.Module):
        return model
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    hint = (
        " TensorFlow models are not supported by this tool; wrap the model in a torch.nn.Module"
        if "tensorflow" in kind or "keras" in kind
        else ""
    )
    raise NotATorchModelError(
        f"{module_name}.load_model returned a {kind}, but a HEAR model must be a torch.nn.Module "
        f"(carrying sample_rate, scene_embedding_size and timestamp_embedding_size).{hint}"
    )


def load_model(
    module_name: str,
    weights: str | Path | None = None,
    options: dict | None = None,
    device: str | torch.device | None = None,
) -> tuple[ModuleType, torch.nn.Module]:
    """Imports a HEAR module and loads its model, on the device, in eval mode.

    Args:
        module_name: dotted module name.
        weights: checkpoint path passed as the first argument of ``load_model``; None or ""
            calls ``load_model`` without it.
        options: keyword arguments for ``load_model`` (heareval's ``--model-options``).
        device: a ``torch.device``, a device string, or None for CUDA when available.

    Returns:
        ``(module, model)``.

    Raises:
        ImportError, AttributeError, NotATorchModelError, RuntimeError, FileNotFoundError.
    """
    if weights and not Path(weights).is_file():
        raise FileNotFoundError(f"model weights file {weights} does not exist")
    if not isinstance(device, torch.device):
        device = pick_device(device)
    module = import_module(module_name)
    model = check_torch_model(call_load_model(module, weights, options), module_name)
    model = model.to(device)
    model.eval()
    return module, model


def weights_digest(path: str | Path | None) -> str | None:
    """Returns the sha256 hex digest of a weights file, or None when there is no file.

    Raises:
        FileNotFoundError: a path was given but does not exist.
    """
    if not path:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model weights file {path} does not exist")
    return file_sha256(path)

"""Loading HEAR modules: import by name, pick a device, load and place the model.

A HEAR module defines, at module level, `load_model(model_file_path="", **options)` returning a
`torch.nn.Module` that carries `sample_rate`, `scene_embedding_size` and
`timestamp_embedding_size`, plus `get_timestamp_embeddings(audio, model)` and
`get_scene_embeddings(audio, model)`.

Only PyTorch models are supported: a HEAR module whose ``load_model`` returns a TensorFlow
``tf.Module`` is rejected with a clear error (heareval 2021 supported TF; we do not, so that
TensorFlow need not be installed next to a CUDA build of torch).

The mistakes a user makes in naming the module, its weights, its options or the device raise
`hearcore.cli.UserError`s (that are also the built-in exception each case used to raise), so
`heareval.validate` and `heareval.embeddings.runner` end with the same message and exit code.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from hearcore.cli import FAILED, NOT_FOUND, UserError
from hearcore.format import SAMPLE_RATES
from hearcore.hashing import file_sha256

HEAR_FUNCTIONS = ("load_model", "get_timestamp_embeddings", "get_scene_embeddings")

RATES_TEXT = ", ".join(str(r) for r in SAMPLE_RATES)
SAMPLE_RATE_RULE = (
    f"a model's sample_rate must be one of the HEAR rates {RATES_TEXT} Hz; a bundle lacking "
    "that rate is resampled on the fly from the nearest higher rate it has (else its highest)"
)


class NotATorchModelError(TypeError):
    """``load_model`` returned something that is not a ``torch.nn.Module``."""


class ModuleNotFound(UserError, ImportError):
    """The HEAR module, or a package it imports, is not installed or not on the path."""

    def __init__(self, message: str):
        super().__init__(message, NOT_FOUND)


class ModuleImportFailed(UserError, ImportError):
    """The HEAR module's own top-level code raised (a bug in that module)."""

    def __init__(self, message: str):
        super().__init__(message, FAILED)


class UnknownDevice(UserError, ValueError):
    """The device string is not a torch device."""


class DeviceUnavailable(UserError, RuntimeError):
    """A CUDA device was asked for on a machine (or torch build) that has none."""


class UnknownModelOption(UserError, TypeError):
    """A `--model-options` key that the module's load_model does not take."""


class WeightsNotFound(UserError, FileNotFoundError):
    """The weights file passed with --model does not exist."""

    def __init__(self, message: str):
        super().__init__(message, NOT_FOUND)


class BadSampleRate(UserError, ValueError):
    """The model's sample_rate is missing or not a HEAR rate."""


def import_module(name: str) -> ModuleType:
    """Imports a HEAR module by its dotted name.

    Args:
        name: e.g. ``"heareval.models.naive"`` or ``"hearbaseline.torchcrepe"``.

    Returns:
        The imported module.

    Raises:
        ModuleNotFound: the module, or a package it imports, cannot be found.
        ModuleImportFailed: the module's top-level code raised.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and name != missing and not name.startswith(missing + "."):
            raise ModuleNotFound(
                f"cannot import HEAR module {name}: it imports {missing!r}, which is not "
                f"installed\npip install the package that provides {missing!r}, then retry"
            ) from exc
        hint = _importable_hint(name, missing or name)
        raise ModuleNotFound(f"cannot import HEAR module {name}: {exc}\n{hint}")
    except Exception as exc:  # any failure while executing the module's top level
        raise ModuleImportFailed(
            f"cannot import HEAR module {name}: {type(exc).__name__}: {exc}\n"
            f"fix the module; python -c 'import {name}' (or --verbose) shows the traceback"
        ) from exc


def _importable_hint(name: str, missing: str) -> str:
    """What to do when `missing` (`name` or the first of its packages that is absent) is not
    found."""
    if name.endswith(".py") or "/" in name or "\\" in name:
        stem = Path(name).with_suffix("").name
        return (
            f"pass the module's dotted import name (e.g. {stem}), not a file path, and add the "
            "folder holding it to PYTHONPATH"
        )
    parent, _, leaf = missing.rpartition(".")
    if parent in sys.modules:  # the package imported; only its module is missing
        modules = pkgutil.iter_modules(getattr(sys.modules[parent], "__path__", []))
        names = sorted(m.name for m in modules if not m.name.startswith("_"))
        near = difflib.get_close_matches(leaf, names, n=1)
        there = f"did you mean {parent}.{near[0]}?" if near else f"it holds: {', '.join(names)}"
        return f"package {parent} has no module {leaf!r}; {there}"
    top = name.split(".")[0]
    return (
        f"it must be importable by that name: add the folder holding {top}/ (or {top}.py) to "
        f"PYTHONPATH, or pip install the package that provides {top!r}"
    )


def pick_device(requested: str | None = None) -> torch.device:
    """Chooses the device for a model.

    Args:
        requested: a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or None for CUDA
            when available, else CPU.

    Returns:
        The ``torch.device``.

    Raises:
        UnknownDevice: the string is not a device name (a ValueError).
        DeviceUnavailable: CUDA was asked for but is not available, or the index does not exist
            (a RuntimeError).
    """
    if requested is None or requested == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise UnknownDevice(
            f"--device {requested!r} is not a device; use cpu, cuda or cuda:N"
        ) from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                f"torch {torch.__version__} is built without CUDA"
                if torch.version.cuda is None
                else f"torch {torch.__version__} sees no CUDA GPU"
            )
            raise DeviceUnavailable(
                f"--device {requested}: CUDA is not available here ({why})\n"
                "use --device cpu, or install the CUDA build of torch on a machine with a GPU"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"--device {requested}: only {torch.cuda.device_count()} CUDA device(s) are "
                "visible; use cuda:0 up to the last one, or --device cpu"
            )
    return device


def parse_model_options(text: str) -> dict:
    """The `--model-options` JSON object as a dict.

    Raises:
        UserError: the text is not a JSON object (USAGE).
    """
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise UserError(f"--model-options is not valid JSON ({exc}); {_OPTIONS_EXAMPLE}") from exc
    if not isinstance(options, dict):
        raise UserError(f"--model-options must be a JSON object, not {text}; {_OPTIONS_EXAMPLE}")
    return options


_OPTIONS_EXAMPLE = "write it like '{\"sample_rate\": 16000}'"


def check_options(module: ModuleType, options: dict | None) -> None:
    """Checks that `load_model` takes every key of `options` as a keyword.

    The first parameter is the weights path (passed with --model), so it is not an option.

    Raises:
        UnknownModelOption: naming the keys and the options load_model takes (USAGE).
    """
    try:
        params = list(inspect.signature(module.load_model).parameters.values())
    except (TypeError, ValueError):  # a builtin or C function: let the call decide
        return
    if not options or any(p.kind is p.VAR_KEYWORD for p in params):
        return
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    path_param = params[0].name if params and params[0].kind in positional else None
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in params if p.kind in keyword_kinds and p.name != path_param]
    unknown = [k for k in options if k not in accepted]
    if not unknown:
        return
    what = (
        f"model option {unknown[0]!r} is"
        if len(unknown) == 1
        else "model options " + ", ".join(repr(k) for k in unknown) + " are"
    )
    near = difflib.get_close_matches(unknown[0], accepted, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    if unknown[0] == path_param:
        hint = "pass the weights file with --model, not as an option; "
    raise UnknownModelOption(
        f"{what} not accepted by load_model of {module.__name__}\n"
        f"{hint}it accepts: {', '.join(accepted) or 'no options'}"
    )


def call_load_model(module: ModuleType, weights: str | Path | None, options: dict | None) -> Any:
    """Calls ``module.load_model`` the way heareval 2021 did (path first, then the options).

    Raises:
        AttributeError: the module has no load_model.
        UnknownModelOption: an option load_model does not take.
    """
    load = getattr(module, "load_model", None)
    if not callable(load):
        raise AttributeError(
            f"HEAR module {module.__name__} has no load_model function; a HEAR module must define "
            "load_model, get_timestamp_embeddings and get_scene_embeddings at module level"
        )
    options = dict(options or {})
    check_options(module, options)
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


def sample_rate_problem(model: Any) -> str | None:
    """What is wrong with the model's sample_rate (one rule for every command), or None."""
    if not hasattr(model, "sample_rate"):
        return f"the model has no sample_rate attribute; set it to one of {RATES_TEXT} Hz"
    rate = model.sample_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        return f"model.sample_rate is {rate!r}; it must be one of the HEAR rates {RATES_TEXT} Hz"
    if rate not in SAMPLE_RATES:
        return (
            f"model.sample_rate is {rate}, not a HEAR rate; set it to one of {RATES_TEXT} Hz, the "
            "rates HEAR bundles come at (a bundle lacking the model's rate is resampled on the fly)"
        )
    return None


def check_sample_rate(model: Any, module_name: str) -> int:
    """The model's sample_rate as an int.

    Raises:
        BadSampleRate: it is missing or not a HEAR rate (USAGE).
    """
    problem = sample_rate_problem(model)
    if problem:
        raise BadSampleRate(
            f"{module_name}: {problem}\n"
            f"python -m heareval.validate {module_name} lists every problem of a module"
        )
    return int(model.sample_rate)


def check_weights(path: str | Path | None) -> None:
    """Raises WeightsNotFound (NOT_FOUND) when a weights path is given but is not a file."""
    if path and not Path(path).is_file():
        raise WeightsNotFound(
            f"model weights file {path} does not exist; pass --model the checkpoint file that "
            "load_model reads"
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
        WeightsNotFound, UnknownDevice, DeviceUnavailable, ModuleNotFound, ModuleImportFailed,
        UnknownModelOption (user errors); AttributeError, NotATorchModelError.
    """
    check_weights(weights)
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
        WeightsNotFound: a path was given but does not exist (a FileNotFoundError).
    """
    if not path:
        return None
    check_weights(path)
    return file_sha256(Path(path))


def add_model_arguments(parser: argparse.ArgumentParser, *weights_aliases: str) -> None:
    """The positional MODULE and the --model weights option, the same in every command that
    loads a model (`weights_aliases`: short forms a command already offered, e.g. "-m")."""
    parser.add_argument(
        "module",
        help="dotted import name of the HEAR module, e.g. heareval.models.naive; it must be "
        "importable (its folder on PYTHONPATH, or its package pip-installed)",
    )
    parser.add_argument(
        "--model",
        *weights_aliases,
        default=None,
        help="weights file passed to load_model (default: none)",
    )

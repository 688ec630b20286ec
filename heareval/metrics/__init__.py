"""Scores of the HEAR evaluation, equal to scikit-learn's and sed_eval's (docs/protocol.md).

`SCORES[name]` is a `Score`; calling it returns `(primary, details)`. Scene scores take
`(predictions N x K, targets N x K)`; event scores take `(predicted, reference, labels)` with
`predicted` and `reference` mapping each file to a list of `{"label", "start", "end"}` events in
milliseconds.
"""


class Score:
    """A named score.

    Attributes:
        name: the registry and logging name, e.g. "mAP".
        maximize: True when higher is better (only segment_1s_er is minimised).
        is_event: True for scores of event lists, False for N x K scene arrays.
    """

    maximize = True
    is_event = False

    def __init__(self, name: str, maximize: bool | None = None):
        self.name = name
        if maximize is not None:
            self.maximize = maximize

    def __call__(self, *args) -> tuple[float, dict[str, float]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# The submodules subclass Score, so they are imported once it exists.
from heareval.metrics.events import EVENT_SCORES  # noqa: E402
from heareval.metrics.scene import SCENE_SCORES  # noqa: E402

SCORES: dict[str, Score] = {score.name: score for score in SCENE_SCORES + EVENT_SCORES}

__all__ = ["SCORES", "Score"]

"""scikit-learn's estimator conventions without scikit-learn: `get_params` / `set_params` from
the `__init__` signature, `clone`, and `rank` for ordering configurations by validation value.

scikit-learn is a test-only dependency; the probes (probes.py) follow its conventions so that they
read like, and work with, its tools (`sklearn.base.clone` accepts them).
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any


def rank(values: list[float], maximize: bool) -> list[int]:
    """Indices of `values` best first; NaN last; ties keep their order (a stable sort)."""

    def key(i: int) -> float:
        if math.isnan(values[i]):
            return math.inf
        return -values[i] if maximize else values[i]

    return sorted(range(len(values)), key=key)


class Estimator:
    """`get_params` / `set_params` derived from the `__init__` signature, as in scikit-learn."""

    @classmethod
    def _param_names(cls) -> list[str]:
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [
            p.name for p in parameters if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters by name; with deep, a nested estimator's as `<name>__<param>`."""
        params = {}
        for name in self._param_names():
            value = getattr(self, name)
            params[name] = value
            if deep and isinstance(value, Estimator):
                params.update({f"{name}__{k}": v for k, v in value.get_params().items()})
        return params

    def set_params(self, **params: Any) -> Estimator:
        """Change hyper-parameters (`<name>__<param>` reaches into a nested estimator)."""
        names = self._param_names()
        for key, value in params.items():
            name, _, nested = key.partition("__")
            if name not in names:
                raise ValueError(f"{type(self).__name__} has no hyper-parameter {name!r}: {names}")
            if nested:
                getattr(self, name).set_params(**{nested: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        parameters = inspect.signature(type(self).__init__).parameters
        shown = [
            f"{name}={value!r}"
            for name, value in self.get_params(deep=False).items()
            if parameters[name].default is inspect.Parameter.empty
            or not _equal(value, parameters[name].default)
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


def _equal(a: Any, b: Any) -> bool:
    return a is b or (type(a) is type(b) and a == b)


def clone(estimator: Estimator) -> Estimator:
    """An unfitted copy with equal hyper-parameters (nested estimators cloned, others copied)."""
    params = {
        name: clone(value) if isinstance(value, Estimator) else copy.deepcopy(value)
        for name, value in estimator.get_params(deep=False).items()
    }
    return type(estimator)(**params)

"""Search-space dimensions and their encoding into the unit hypercube.

Every dimension maps a value to a few coordinates in ``[0, 1]`` (log scale for log priors,
one-hot for categories, the CDF for scipy distributions) so that a single sampler, random or GP,
works on any mix of dimensions. Values are also stored in a JSON-safe form (a float, an int, or the
index of a category) so that a trial log can be read back into exactly the same parameters.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Real", "Integer", "Categorical", "Dimension", "Space", "SearchSpace"]

_PRIORS = ("uniform", "log-uniform")


class Dimension:
    """Base class of a search dimension."""

    n_coords = 1

    def sample(self, rng: np.random.RandomState, n: int) -> list:
        u = rng.uniform(size=(n, self.n_coords))
        return [self.decode(row) for row in u]

    def encode(self, value: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, coords: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, value: Any) -> Any:
        return value

    def signature(self) -> str:
        return repr(self)


class Real(Dimension):
    """A real-valued dimension on ``[low, high]``.

    Parameters
    ----------
    low, high : float
        Bounds, ``low < high``.
    prior : {"uniform", "log-uniform"}, default="uniform"
        ``"log-uniform"`` samples and models the dimension on a log scale (``low`` must be > 0).

    Examples
    --------
    >>> from ensemblekit.tuning import Real
    >>> Real(1e-4, 1.0, prior="log-uniform")
    Real(low=0.0001, high=1.0, prior='log-uniform')
    """

    def __init__(self, low: float, high: float, prior: str = "uniform") -> None:
        _check_bounds(low, high, prior, integer=False)
        self.low, self.high, self.prior = float(low), float(high), prior

    def __repr__(self) -> str:
        return f"Real(low={self.low!r}, high={self.high!r}, prior={self.prior!r})"

    def _fwd(self, v):
        return np.log(v) if self.prior == "log-uniform" else v

    def _inv(self, t):
        return np.exp(t) if self.prior == "log-uniform" else t

    def encode(self, value: float) -> np.ndarray:
        lo, hi = self._fwd(self.low), self._fwd(self.high)
        return np.array([(self._fwd(float(value)) - lo) / (hi - lo)])

    def decode(self, coords: np.ndarray) -> float:
        lo, hi = self._fwd(self.low), self._fwd(self.high)
        t = lo + float(np.clip(coords[0], 0.0, 1.0)) * (hi - lo)
        # exp/log round trips can leave the value a hair outside the bounds.
        return float(np.clip(self._inv(t), self.low, self.high))

    def to_json(self, value: float) -> float:
        return float(value)

    def from_json(self, value: float) -> float:
        return float(value)


class Integer(Dimension):
    """An integer dimension on ``[low, high]`` (both inclusive).

    Parameters
    ----------
    low, high : int
        Bounds, ``low <= high``.
    prior : {"uniform", "log-uniform"}, default="uniform"
        ``"log-uniform"`` works on a log scale (``low`` must be > 0), e.g. for ``n_estimators``.

    Examples
    --------
    >>> from ensemblekit.tuning import Integer
    >>> Integer(2, 8)
    Integer(low=2, high=8, prior='uniform')
    """

    def __init__(self, low: int, high: int, prior: str = "uniform") -> None:
        for name, v in (("low", low), ("high", high)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise ValueError(f"Integer {name} must be an int, got {v!r}")
        _check_bounds(low, high, prior, integer=True)
        self.low, self.high, self.prior = int(low), int(high), prior

    def __repr__(self) -> str:
        return f"Integer(low={self.low!r}, high={self.high!r}, prior={self.prior!r})"

    def _edges(self):
        # Each integer owns an equal-width cell [k - 0.5, k + 0.5] (in log space for log priors)
        # so that uniform coordinates give every integer its fair share.
        lo, hi = self.low - 0.5, self.high + 0.5
        if self.prior == "log-uniform":
            lo, hi = np.log(max(self.low - 0.5, self.low * 0.5)), np.log(self.high + 0.5)
        return lo, hi

    def encode(self, value: int) -> np.ndarray:
        lo, hi = self._edges()
        t = np.log(float(value)) if self.prior == "log-uniform" else float(value)
        return np.array([(t - lo) / (hi - lo)])

    def decode(self, coords: np.ndarray) -> int:
        lo, hi = self._edges()
        t = lo + float(np.clip(coords[0], 0.0, 1.0)) * (hi - lo)
        v = np.exp(t) if self.prior == "log-uniform" else t
        return int(np.clip(np.rint(v), self.low, self.high))

    def to_json(self, value: int) -> int:
        return int(value)

    def from_json(self, value: int) -> int:
        return int(value)


class Categorical(Dimension):
    """A categorical dimension; one-hot encoded for the surrogate model.

    Parameters
    ----------
    choices : sequence
        The candidate values (any objects, including estimators and ``None``).

    Examples
    --------
    >>> from ensemblekit.tuning import Categorical
    >>> Categorical(["l1", "l2", None])
    Categorical(choices=['l1', 'l2', None])
    """

    def __init__(self, choices: Sequence) -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
            choices = list(choices) if hasattr(choices, "__iter__") else None
            if choices is None:
                raise ValueError("Categorical choices must be a non-string sequence")
        choices = list(choices)
        if len(choices) == 0:
            raise ValueError("Categorical choices must not be empty")
        self.choices = choices
        self.n_coords = len(choices) if len(choices) > 1 else 1

    def __repr__(self) -> str:
        return f"Categorical(choices={self.choices!r})"

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if c is value:
                return i
        for i, c in enumerate(self.choices):
            try:
                if bool(c == value):
                    return i
            except Exception:  # noqa: BLE001 - arrays/estimators may not compare cleanly
                continue
        raise ValueError(f"{value!r} is not one of {self.choices!r}")

    def encode(self, value: Any) -> np.ndarray:
        if len(self.choices) == 1:
            return np.array([0.5])
        out = np.zeros(len(self.choices))
        out[self.index(value)] = 1.0
        return out

    def decode(self, coords: np.ndarray) -> Any:
        if len(self.choices) == 1:
            return self.choices[0]
        return self.choices[int(np.argmax(coords))]

    def sample(self, rng: np.random.RandomState, n: int) -> list:
        return [self.choices[i] for i in rng.randint(len(self.choices), size=n)]

    def to_json(self, value: Any) -> int:
        return self.index(value)

    def from_json(self, value: int) -> Any:
        return self.choices[int(value)]


class _Distribution(Dimension):
    """A scipy.stats frozen distribution, encoded through its CDF (quantile space)."""

    def __init__(self, dist) -> None:
        self.dist = dist
        self.discrete = hasattr(dist.dist, "pmf") or not hasattr(dist.dist, "pdf")

    def __repr__(self) -> str:
        d = self.dist
        args = [repr(a) for a in d.args] + [f"{k}={v!r}" for k, v in sorted(d.kwds.items())]
        return f"{d.dist.name}({', '.join(args)})"

    def signature(self) -> str:
        # Part of a stored search's identity (its header): never change it, or existing trial
        # logs stop resuming.
        d = self.dist
        return f"Distribution({d.dist.name}, args={d.args!r}, kwds={sorted(d.kwds.items())!r})"

    def sample(self, rng: np.random.RandomState, n: int) -> list:
        return [self._cast(v) for v in np.atleast_1d(self.dist.rvs(size=n, random_state=rng))]

    def _cast(self, v):
        return int(v) if self.discrete else float(v)

    def encode(self, value: float) -> np.ndarray:
        return np.array([float(np.clip(self.dist.cdf(value), 0.0, 1.0))])

    def decode(self, coords: np.ndarray) -> float:
        # Keep clear of the exact 0/1 quantiles, which are infinite for unbounded distributions.
        q = float(np.clip(coords[0], 1e-6, 1 - 1e-6))
        return self._cast(self.dist.ppf(q))

    def to_json(self, value: float) -> float:
        return self._cast(value)

    def from_json(self, value: float) -> float:
        return self._cast(value)


def _check_bounds(low, high, prior, *, integer):
    if prior not in _PRIORS:
        raise ValueError(f"prior must be one of {_PRIORS}, got {prior!r}")
    for name, v in (("low", low), ("high", high)):
        if not isinstance(v, numbers.Real) or not np.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    if integer and low > high:
        raise ValueError(f"Inverted range: low={low} > high={high}")
    if not integer and low >= high:
        kind = "Empty" if low == high else "Inverted"
        raise ValueError(f"{kind} range: low={low} must be < high={high}")
    if prior == "log-uniform" and low <= 0:
        raise ValueError(f"A 'log-uniform' prior needs low > 0, got low={low}")


def to_dimension(value, name: str = "?") -> Dimension:
    """Turn a user's description (dimension, scipy distribution, list, tuple) into a Dimension."""
    if isinstance(value, Dimension):
        return value
    if hasattr(value, "rvs") and hasattr(value, "dist"):
        return _Distribution(value)
    if hasattr(value, "rvs"):
        raise ValueError(
            f"Parameter {name!r}: only frozen scipy.stats distributions are supported "
            f"(with .dist, .cdf and .ppf), got {value!r}"
        )
    if (
        isinstance(value, tuple)
        and len(value) in (2, 3)
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value[:2])
    ):
        low, high = value[:2]
        prior = value[2] if len(value) == 3 else "uniform"
        if all(isinstance(v, numbers.Integral) for v in (low, high)):
            return Integer(low, high, prior)
        return Real(low, high, prior)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(
            f"Parameter {name!r}: expected a Real/Integer/Categorical, a scipy.stats frozen "
            f"distribution or a list of values, got {value!r}"
        )
    try:
        return Categorical(list(value))
    except ValueError as exc:
        raise ValueError(f"Parameter {name!r}: {exc}") from None


class Space:
    """One dictionary of dimensions, in a fixed (sorted) order."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if not isinstance(spec, Mapping) or len(spec) == 0:
            raise ValueError(f"A search space must be a non-empty dict, got {spec!r}")
        self.names = sorted(spec)
        for n in self.names:
            if not isinstance(n, str):
                raise ValueError(f"Parameter names must be strings, got {n!r}")
        self.dims = [to_dimension(spec[n], n) for n in self.names]
        self.n_coords = sum(d.n_coords for d in self.dims)

    def sample(self, rng: np.random.RandomState, n: int) -> list[dict]:
        cols = [d.sample(rng, n) for d in self.dims]
        return [dict(zip(self.names, vals, strict=True)) for vals in zip(*cols, strict=True)]

    def encode(self, params: Mapping) -> np.ndarray:
        return np.concatenate(
            [d.encode(params[n]) for n, d in zip(self.names, self.dims, strict=True)]
        )

    def decode(self, x: np.ndarray) -> dict:
        out, i = {}, 0
        for n, d in zip(self.names, self.dims, strict=True):
            out[n] = d.decode(x[i : i + d.n_coords])
            i += d.n_coords
        return out

    def to_json(self, params: Mapping) -> dict:
        return {n: d.to_json(params[n]) for n, d in zip(self.names, self.dims, strict=True)}

    def from_json(self, stored: Mapping) -> dict:
        return {n: d.from_json(stored[n]) for n, d in zip(self.names, self.dims, strict=True)}

    def signature(self) -> str:
        return (
            "{"
            + ", ".join(f"{n}: {d.signature()}" for n, d in zip(self.names, self.dims, strict=True))
            + "}"
        )

    def _repr_items(self) -> list[str]:
        return [f"{n!r}: {d!r}" for n, d in zip(self.names, self.dims, strict=True)]

    def __repr__(self) -> str:
        return "{" + ", ".join(self._repr_items()) + "}"

    def key(self, params: Mapping) -> str:
        """A hashable identity for duplicate detection (through the JSON form)."""
        return repr(sorted(self.to_json(params).items()))


class SearchSpace:
    """A list of :class:`Space` (conditional structure, as a ``param_grid`` list of dicts)."""

    def __init__(self, spec) -> None:
        specs = [spec] if isinstance(spec, Mapping) else list(spec) if spec is not None else []
        if len(specs) == 0:
            raise ValueError("search_spaces must be a non-empty dict or a list of non-empty dicts")
        self.spaces = [Space(s) for s in specs]

    def __len__(self) -> int:
        return len(self.spaces)

    def all_names(self) -> set[str]:
        return {n for s in self.spaces for n in s.names}

    def check_names(self, estimator) -> None:
        """Reject unknown parameter names, listing the estimator's valid ones."""
        valid = estimator.get_params(deep=True)
        bad = sorted(n for n in self.all_names() if n not in valid)
        if bad:
            raise ValueError(
                f"Invalid parameter name(s) {bad} for estimator {type(estimator).__name__}. "
                f"Valid parameters are: {sorted(valid)}"
            )

    def signature(self) -> str:
        return "[" + ", ".join(s.signature() for s in self.spaces) + "]"

    def __repr__(self) -> str:
        """The dimensions as a dict (a list of dicts for a conditional space).

        On one line when it fits in 88 characters, otherwise one dimension per line.
        """
        if len(self.spaces) == 1:
            text = f"SearchSpace({self.spaces[0]!r})"
            if len(text) <= 88:
                return text
            return "SearchSpace({\n" + _lines(self.spaces[0], "    ") + "})"
        text = "SearchSpace([" + ", ".join(repr(sp) for sp in self.spaces) + "])"
        if len(text) <= 88:
            return text
        parts = []
        for sp in self.spaces:
            one = f"    {sp!r},\n"
            parts.append(one if len(one) <= 89 else "    {\n" + _lines(sp, "        ") + "    },\n")
        return "SearchSpace([\n" + "".join(parts) + "])"

    def fingerprint(self) -> str:
        return hashlib.sha256(self.signature().encode()).hexdigest()[:16]


def _lines(space: Space, indent: str) -> str:
    return "".join(f"{indent}{item},\n" for item in space._repr_items())

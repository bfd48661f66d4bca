"""Errors raised by the gradient-descent estimators."""


class DivergenceError(ValueError):
    """The training objective became non-finite: the learning rate is too large."""

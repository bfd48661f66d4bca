"""Drop-in twins of scikit-learn's linear models, fitted by ``GDRegressor``'s machinery.

Each twin minimizes exactly the objective of its scikit-learn namesake, with the same
meaning of ``alpha``, and defaults to full-batch FISTA on the preconditioned problem (on
the standardized Gram matrix when ``n_samples >= 2 n_features``), which reaches
scikit-learn's optimum on raw columns as on standardized ones and certifies it
(``certificate_``).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .._compat import Interval, StrOptions
from ._base import FEATURES_IN_DOC, BaseGD, GDConfig, init_params, make_hp
from ._datafits import Datafit
from ._gd_regressor import schedule_params
from ._optimizers import SOLVER_CODES

_SHARED_DOC = """
    fit_intercept : bool, default=True
        Whether to fit the (unpenalized) intercept.
    solver : {"fista", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", \
"adamw"}, default="fista"
        "fista" (full batch, on the standardized Gram matrix when ``n_samples >= 2
        n_features``, backtracking, restart) reaches the exact optimum and certifies it;
        without an L1 part on the Gram matrix it solves the linear system directly (FISTA
        in the metric of the Hessian: one step). The others are the stochastic and
        first-order rules of :class:`GDRegressor`.
    batch_size : int or "full", default="full"
        Samples per update of the non-FISTA solvers.
    learning_rate_init : float or None, default=None
        Step size, in the units of the standardized problem. For "fista", the initial
        step of the backtracking line search, None meaning 1/L (L the Lipschitz constant
        of the gradient of the data term); for the other solvers a constant learning
        rate, None meaning the data-derived rate of :class:`GDRegressor`.
    max_iter : int, default=10000
        Maximum number of epochs (FISTA iterations).
    tol : float or None, default=1e-6
        For "fista": stop when the duality gap is below ``tol`` times the objective, which
        certifies that the objective is within a relative ``tol`` of the optimum (the KKT
        violation for ``GDLinearRegression``, which has no dual bound; the exact
        suboptimality for the linear-system solve). Other solvers: the stopping rule of
        :class:`GDRegressor`. None disables stopping. Reaching ``max_iter`` first warns
        with the certificate.
    n_iter_no_change : int, default=5
        Patience of the stopping rule of the non-FISTA solvers.
    shuffle : bool, default=True
        Shuffle the samples each epoch (mini-batch solvers).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    verbose : int, default=0
        Print the objective every epoch.
    precondition : bool, default=True
        Standardize internally, the change of variables undone exactly and the penalty
        kept on the original coefficients: fits do not depend on the units of the
        columns. False works on the raw columns.
    callbacks : list of callable or None, default=None
        Called after each epoch as ``callback(estimator, info)``
        (:class:`EpochInfo`); training stops when one returns True.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients.
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept.
    n_iter_ : int
        Epochs (FISTA iterations) run by the last ``fit``.
    t_ : int
        Number of parameter updates.
    loss_curve_ : list of float
        Objective after each epoch, in ``GDRegressor``'s normalization (divided by the
        total sample weight, see above).
    history_ : dict of lists
        The training curves (see :class:`GDRegressor`).
    certificate_ : float
        "fista": the relative duality gap of the returned solution (an upper bound of its
        relative distance to the optimum of the objective).
    converged_ : bool
        Whether the stopping rule (not ``max_iter``) ended training.
""" + FEATURES_IN_DOC


def _alpha_doc(name: str) -> str:
    return f"""alpha : float, default=1.0
        Regularization strength, as in ``{name}``.
    """


class _GDTwin(BaseGD):
    """Shared parameters and fit/partial_fit of the scikit-learn twins."""

    # y of shape (n, K), as scikit-learn's linear models (``_multi_output``).
    _multi_output = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVER_CODES))],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"full"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "precondition": ["boolean"],
        "callbacks": [list, tuple, None],
    }

    def _penalty(self, sample_weight_sum: float) -> tuple[float, float]:
        """(alpha, l1_ratio) in GDRegressor's convention."""
        raise NotImplementedError  # pragma: no cover

    def _gd_config(self, sample_weight_sum: float) -> GDConfig:
        alpha, l1_ratio = self._penalty(sample_weight_sum)
        return GDConfig(
            datafit=Datafit("squared_error"),
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver,
            batch_size=self.batch_size,
            learning_rate="constant",
            learning_rate_init=(None if self.learning_rate_init is None
                                else float(self.learning_rate_init)),
            sp=schedule_params(0.1, 10, 0.25, 0.1, "triangular", 10, 1, 0.0, 0),
            milestones=np.zeros(0),
            hp=make_hp(0.9, 0.9, 0.999, 1e-8, 0.9),
            max_iter=int(self.max_iter),
            tol=None if self.tol is None else float(self.tol),
            n_iter_no_change=int(self.n_iter_no_change),
            shuffle=bool(self.shuffle),
            random_state=self.random_state,
            verbose=int(self.verbose),
            precondition=bool(self.precondition),
            callbacks=tuple(self.callbacks or ()),
        )


class _PenalizedTwin(_GDTwin):
    """A twin with scikit-learn's ``alpha`` (Ridge, Lasso)."""

    _parameter_constraints: dict = {
        **_GDTwin._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="fista", batch_size="full",
                 learning_rate_init=None, max_iter=10000, tol=1e-6, n_iter_no_change=5,
                 shuffle=True, random_state=None, warm_start=False, verbose=0,
                 precondition=True, callbacks=None):
        init_params(self, locals())


class GDLinearRegression(_GDTwin):
    __doc__ = r"""Least squares fitted by first-order methods; twin of ``LinearRegression``.

    Minimizes :math:`\sum_i s_i (y_i - x_i^\top w - b)^2` (sample weights :math:`s_i`).
    A multi-output y of shape (n, K) is fitted jointly, the objective summed over its columns
    (``solver="fista"``).

    Parameters
    ----------
    """ + _SHARED_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.estimators import GDLinearRegression
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> y = X @ np.array([1.0, 2.0]) + 3.0
    >>> reg = GDLinearRegression(tol=1e-10).fit(X, y)
    >>> np.round(reg.coef_, 6), round(float(reg.intercept_), 6)
    (array([1., 2.]), 3.0)
    """

    def __init__(self, *, fit_intercept=True, solver="fista", batch_size="full",
                 learning_rate_init=None, max_iter=10000, tol=1e-6, n_iter_no_change=5,
                 shuffle=True, random_state=None, warm_start=False, verbose=0,
                 precondition=True, callbacks=None):
        init_params(self, locals())

    def _penalty(self, sample_weight_sum):
        return 0.0, 0.0


class GDRidge(_PenalizedTwin):
    __doc__ = r"""Ridge regression by first-order methods; twin of ``sklearn.linear_model.Ridge``.

    Minimizes :math:`\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha \|w\|_2^2`, scikit-learn's
    Ridge objective, i.e. ``GDRegressor`` with ``penalty="l2"`` and
    ``alpha / sum(sample_weight)`` (with ``partial_fit``, the weight of the data passed in
    that call). A multi-output y (n, K) sums the objective over its columns
    (``solver="fista"``).

    Parameters
    ----------
    """ + _alpha_doc("Ridge") + _SHARED_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from ensemblekit.estimators import GDRidge
    >>> X, y = make_regression(n_samples=60, n_features=8, noise=1.0, random_state=1)
    >>> gd = GDRidge(alpha=2.0).fit(X, y)
    >>> float(abs(gd.coef_ - Ridge(alpha=2.0).fit(X, y).coef_).max()) < 1e-8
    True
    """

    def _penalty(self, sample_weight_sum):
        return float(self.alpha) / sample_weight_sum, 0.0


class GDLasso(_PenalizedTwin):
    __doc__ = r"""Lasso fitted by first-order methods; twin of ``sklearn.linear_model.Lasso``.

    Minimizes :math:`\frac{1}{2 \sum_i s_i} \sum_i s_i (y_i - x_i^\top w - b)^2
    + \alpha \|w\|_1` (scikit-learn's Lasso objective, :math:`\frac{1}{2n}\|y - Xw - b\|^2
    + \alpha \|w\|_1` without weights). A multi-output y (n, K) sums the objective
    over its columns (``solver="fista"``).

    Parameters
    ----------
    """ + _alpha_doc("Lasso") + _SHARED_DOC + """
    Examples
    --------
    Columns on very different scales change nothing (the fit is preconditioned):

    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.estimators import GDLasso
    >>> X, y = make_regression(n_samples=200, n_features=5, n_informative=2, random_state=0)
    >>> X = X * [1.0, 10.0, 100.0, 1e3, 1e4]
    >>> lasso = GDLasso(alpha=1.0).fit(X, y)
    >>> [bool(c != 0) for c in lasso.coef_], lasso.certificate_ <= 1e-6
    ([False, True, False, True, True], True)
    """

    def _penalty(self, sample_weight_sum):
        return float(self.alpha), 1.0


class GDElasticNet(_PenalizedTwin):
    __doc__ = r"""Elastic net by first-order methods; twin of ``sklearn.linear_model.ElasticNet``.

    Minimizes :math:`\frac{1}{2 \sum_i s_i} \sum_i s_i (y_i - x_i^\top w - b)^2
    + \alpha \rho \|w\|_1 + \frac{\alpha (1 - \rho)}{2} \|w\|_2^2` with :math:`\rho` =
    ``l1_ratio`` (scikit-learn's ElasticNet objective). ``partial_fit`` runs one epoch
    (one FISTA iteration), e.g. for Hyperband over epochs. A multi-output y (n, K) sums
    the objective over its columns (``solver="fista"``, ``fit`` only).

    Parameters
    ----------
    """ + _alpha_doc("ElasticNet") + """l1_ratio : float, default=0.5
        Mixing parameter, as in ``ElasticNet``.
    """ + _SHARED_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import ElasticNet
    >>> from ensemblekit.estimators import GDElasticNet
    >>> X, y = load_diabetes(return_X_y=True)
    >>> ours = GDElasticNet(alpha=0.01, l1_ratio=0.9).fit(X, y)
    >>> ref = ElasticNet(alpha=0.01, l1_ratio=0.9, tol=1e-12, max_iter=100_000).fit(X, y)
    >>> bool(np.array_equal(ours.coef_ == 0, ref.coef_ == 0)), ours.certificate_ <= 1e-6
    (True, True)
    """

    _parameter_constraints: dict = {
        **_PenalizedTwin._parameter_constraints,
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, solver="fista",
                 batch_size="full", learning_rate_init=None, max_iter=10000, tol=1e-6,
                 n_iter_no_change=5, shuffle=True, random_state=None, warm_start=False,
                 verbose=0, precondition=True, callbacks=None):
        init_params(self, locals())

    def _penalty(self, sample_weight_sum):
        return float(self.alpha), float(self.l1_ratio)

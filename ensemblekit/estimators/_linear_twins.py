"""Drop-in twins of scikit-learn's linear models, fitted by ``GDRegressor``'s machinery.

Each twin minimizes exactly the objective of its scikit-learn namesake, with the same
meaning of ``alpha``, and defaults to full-batch FISTA (on the Gram matrix when
``n_samples >= 2 n_features``), which reaches scikit-learn's optimum.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .._compat import Interval, StrOptions, _fit_context
from ._base import BaseGD, GDConfig, make_hp
from ._gd_regressor import schedule_params
from ._optimizers import SOLVER_CODES

_SHARED_DOC = """
    fit_intercept : bool, default=True
        Whether to fit the (unpenalized) intercept.
    solver : {"fista", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", \
"adamw"}, default="fista"
        "fista" (full batch, backtracking, restart) reaches the exact optimum; the others
        are the stochastic/first-order rules of :class:`GDRegressor`.
    batch_size : int or "full", default="full"
        Samples per update of the non-FISTA solvers.
    learning_rate_init : float or None, default=None
        Step size. For "fista", the initial step of the backtracking line search, None
        meaning 1/L (L, the estimated Lipschitz constant of the gradient); for the other
        solvers a constant learning rate, None meaning 0.01 (0.001 for adam/adamw).
    max_iter : int, default=10000
        Maximum number of epochs (FISTA iterations).
    tol : float or None, default=1e-4
        For "fista": stop when the largest entry of the proximal-gradient mapping is below
        ``tol`` times its value at zero. Other solvers: stop when the objective has not
        improved by ``tol`` for ``n_iter_no_change`` epochs. None disables stopping.
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

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients.
    intercept_ : float
        Intercept.
    n_iter_ : int
        Epochs (FISTA iterations) run by the last ``fit``.
    t_ : int
        Number of parameter updates.
    loss_curve_ : list of float
        Objective after each epoch, in ``GDRegressor``'s normalization (divided by the
        total sample weight, see above).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
"""


class _GDTwin(BaseGD):
    """Shared parameters and fit/partial_fit of the scikit-learn twins."""

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
    }

    def _penalty(self, sample_weight_sum: float) -> tuple[float, float]:
        """(alpha, l1_ratio) in GDRegressor's convention."""
        raise NotImplementedError  # pragma: no cover

    def _gd_config(self, sample_weight_sum: float) -> GDConfig:
        alpha, l1_ratio = self._penalty(sample_weight_sum)
        return GDConfig(
            loss="squared_error",
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
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None) -> _GDTwin:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (dense or CSR).
        y : array-like of shape (n_samples,)
            Target values (a single output).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        coef_init : array-like of shape (n_features,), default=None
            Initial coefficients.
        intercept_init : float, default=None
            Initial intercept.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None) -> _GDTwin:
        """Run one epoch (one FISTA iteration) from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            Updated estimator.
        """
        return self._partial_fit(X, y, sample_weight)


def _twin_init(self, fit_intercept, solver, batch_size, learning_rate_init, max_iter, tol,
               n_iter_no_change, shuffle, random_state, warm_start, verbose):
    self.fit_intercept = fit_intercept
    self.solver = solver
    self.batch_size = batch_size
    self.learning_rate_init = learning_rate_init
    self.max_iter = max_iter
    self.tol = tol
    self.n_iter_no_change = n_iter_no_change
    self.shuffle = shuffle
    self.random_state = random_state
    self.warm_start = warm_start
    self.verbose = verbose


class GDLinearRegression(_GDTwin):
    __doc__ = r"""Least squares fitted by first-order methods; twin of ``LinearRegression``.

    Minimizes :math:`\sum_i s_i (y_i - x_i^\top w - b)^2` (sample weights :math:`s_i`).
    Multi-output targets are not supported.

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
                 learning_rate_init=None, max_iter=10000, tol=1e-4, n_iter_no_change=5,
                 shuffle=True, random_state=None, warm_start=False, verbose=0):
        _twin_init(self, fit_intercept, solver, batch_size, learning_rate_init, max_iter, tol,
                   n_iter_no_change, shuffle, random_state, warm_start, verbose)

    def _penalty(self, sample_weight_sum):
        return 0.0, 0.0


class GDRidge(_GDTwin):
    __doc__ = r"""Ridge regression by first-order methods; twin of ``sklearn.linear_model.Ridge``.

    Minimizes :math:`\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha \|w\|_2^2`, scikit-learn's
    Ridge objective, i.e. ``GDRegressor`` with ``penalty="l2"`` and
    ``alpha / sum(sample_weight)`` (with ``partial_fit``, the weight of the data passed in
    that call). Multi-output targets are not supported.

    Parameters
    ----------
    alpha : float, default=1.0
        Regularization strength, as in ``Ridge``.
    """ + _SHARED_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from ensemblekit.estimators import GDRidge
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(50, 3), rng.randn(50)
    >>> gd = GDRidge(alpha=2.0, tol=1e-10).fit(X, y)
    >>> bool(np.allclose(gd.coef_, Ridge(alpha=2.0).fit(X, y).coef_, atol=1e-7))
    True
    """

    _parameter_constraints: dict = {
        **_GDTwin._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="fista", batch_size="full",
                 learning_rate_init=None, max_iter=10000, tol=1e-4, n_iter_no_change=5,
                 shuffle=True, random_state=None, warm_start=False, verbose=0):
        self.alpha = alpha
        _twin_init(self, fit_intercept, solver, batch_size, learning_rate_init, max_iter, tol,
                   n_iter_no_change, shuffle, random_state, warm_start, verbose)

    def _penalty(self, sample_weight_sum):
        return float(self.alpha) / sample_weight_sum, 0.0


class GDLasso(_GDTwin):
    __doc__ = r"""Lasso fitted by first-order methods; twin of ``sklearn.linear_model.Lasso``.

    Minimizes :math:`\frac{1}{2 \sum_i s_i} \sum_i s_i (y_i - x_i^\top w - b)^2
    + \alpha \|w\|_1` (scikit-learn's Lasso objective, :math:`\frac{1}{2n}\|y - Xw - b\|^2
    + \alpha \|w\|_1` without weights). Multi-output targets are not supported.

    Parameters
    ----------
    alpha : float, default=1.0
        Regularization strength, as in ``Lasso``.
    """ + _SHARED_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.estimators import GDLasso
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 4)
    >>> y = X @ np.array([2.0, 0.0, 0.0, -1.0])
    >>> np.round(GDLasso(alpha=0.1, tol=1e-10).fit(X, y).coef_, 2)
    array([ 1.91,  0.  ,  0.  , -0.89])
    """

    _parameter_constraints: dict = {
        **_GDTwin._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="fista", batch_size="full",
                 learning_rate_init=None, max_iter=10000, tol=1e-4, n_iter_no_change=5,
                 shuffle=True, random_state=None, warm_start=False, verbose=0):
        self.alpha = alpha
        _twin_init(self, fit_intercept, solver, batch_size, learning_rate_init, max_iter, tol,
                   n_iter_no_change, shuffle, random_state, warm_start, verbose)

    def _penalty(self, sample_weight_sum):
        return float(self.alpha), 1.0


class GDElasticNet(_GDTwin):
    __doc__ = r"""Elastic net by first-order methods; twin of ``sklearn.linear_model.ElasticNet``.

    Minimizes :math:`\frac{1}{2 \sum_i s_i} \sum_i s_i (y_i - x_i^\top w - b)^2
    + \alpha \rho \|w\|_1 + \frac{\alpha (1 - \rho)}{2} \|w\|_2^2` with :math:`\rho` =
    ``l1_ratio`` (scikit-learn's ElasticNet objective). ``partial_fit`` runs one epoch
    (one FISTA iteration), e.g. for Hyperband over epochs. Multi-output targets are not
    supported.

    Parameters
    ----------
    alpha : float, default=1.0
        Regularization strength, as in ``ElasticNet``.
    l1_ratio : float, default=0.5
        Mixing parameter, as in ``ElasticNet``.
    """ + _SHARED_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.estimators import GDElasticNet
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 4)
    >>> y = X @ np.array([2.0, 0.0, 0.0, -1.0])
    >>> reg = GDElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-10).fit(X, y)
    >>> int((reg.coef_ == 0).sum())
    2
    """

    _parameter_constraints: dict = {
        **_GDTwin._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, solver="fista",
                 batch_size="full", learning_rate_init=None, max_iter=10000, tol=1e-4,
                 n_iter_no_change=5, shuffle=True, random_state=None, warm_start=False,
                 verbose=0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        _twin_init(self, fit_intercept, solver, batch_size, learning_rate_init, max_iter, tol,
                   n_iter_no_change, shuffle, random_state, warm_start, verbose)

    def _penalty(self, sample_weight_sum):
        return float(self.alpha), float(self.l1_ratio)

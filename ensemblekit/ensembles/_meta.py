"""The default meta-learners: non-negative ridge (regression), non-negative logit pool (classes)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize, nnls
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .._compat import Interval, _check_sample_weight, _fit_context
from ._base import ArrayLike


class NonNegativeRidgeCV(RegressorMixin, BaseEstimator):
    """Linear regression with non-negative coefficients and a ridge penalty chosen by LOO.

    Minimizes ``sum_i sw_i (y_i - x_i . w - b)^2 + alpha ||w||^2`` subject to ``w >= 0``
    (the intercept ``b`` is free and not penalized). ``alpha`` is the value among ``alphas``
    with the lowest efficient leave-one-out error of the unconstrained ridge
    (``sklearn.linear_model.RidgeCV``); the constrained problem is then solved exactly, as
    a non-negative least-squares problem on the ridge-augmented system.

    This is the default meta-learner of :class:`StackingCVRegressor` and
    :class:`BlendingRegressor`. Non-negative weights are the super learner's choice: the
    members' predictions are strongly correlated, and unconstrained weights of opposite
    signs extrapolate. The ridge term shrinks the weights of near-duplicate members towards
    each other, which plain non-negative least squares does not do; with the same ``alphas``
    it equals scikit-learn's ``RidgeCV`` (``StackingRegressor``'s default) whenever the
    ridge weights are already non-negative.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Candidate penalties (positive), as in ``RidgeCV``.
    fit_intercept : bool, default=True
        Fit a free intercept (data centred with the weighted means).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Non-negative weights.
    intercept_ : float
    alpha_ : float
        The chosen penalty.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import NonNegativeRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=200)
    >>> Z = np.c_[y + 0.3 * rng.normal(size=200), y + 0.5 * rng.normal(size=200), -y]
    >>> meta = NonNegativeRidgeCV().fit(Z, y)
    >>> bool((meta.coef_ >= 0).all()), float(meta.coef_[2])
    (True, 0.0)
    """

    _parameter_constraints: dict = {
        "alphas": ["array-like", Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, alphas=(0.1, 1.0, 10.0), fit_intercept=True):
        self.alphas = alphas
        self.fit_intercept = fit_intercept

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> NonNegativeRidgeCV:
        """Choose ``alpha`` by leave-one-out, then solve the non-negative ridge problem.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas > 0):
            raise ValueError(f"alphas must be a non-empty list of positive floats, got {alphas}.")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if alphas.size == 1:
            self.alpha_ = float(alphas[0])
        else:
            loo = RidgeCV(alphas=alphas, fit_intercept=self.fit_intercept)
            self.alpha_ = float(loo.fit(X, y, sample_weight=sw).alpha_)
        if self.fit_intercept:
            x_mean = np.average(X, axis=0, weights=sw)
            y_mean = float(np.average(y, weights=sw))
        else:
            x_mean, y_mean = np.zeros(X.shape[1]), 0.0
        root = np.sqrt(sw)[:, None]
        p = X.shape[1]
        A = np.vstack([root * (X - x_mean), np.sqrt(self.alpha_) * np.eye(p)])
        b = np.concatenate([root[:, 0] * (y - y_mean), np.zeros(p)])
        self.coef_, _ = nnls(A, b)
        self.intercept_ = y_mean - float(x_mean @ self.coef_)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class _NonNegativeLogisticCV(ClassifierMixin, BaseEstimator):
    """The default meta-learner of the classification stacks: a logarithmic opinion pool.

    The input holds the members' class scores (log-odds), member after member: one column per
    member for two classes (the second class's log-odds), ``K`` columns per member for
    ``K > 2`` classes (centred log-probabilities). Member ``g``'s score for class ``k`` enters
    class ``k``'s score only, with a non-negative weight, plus a free intercept per class:

        P(class k | z) = softmax_k(b_k + sum_g w_{g,k} z_{g,k})

    (two classes: one weight per member, ``P(class 1) = sigmoid(b + sum_g w_g z_g)``), i.e. a
    multinomial (binomial) logistic regression on the members' log-odds with non-negative
    weights, H2O's default meta-learner. Weights of 1 for one member and 0 for the others
    reproduce that member's probabilities; a member can be trusted more on some classes than on
    others (on the 4-class HPC data this per-class freedom lowered the stack's log loss from
    0.449 to 0.445, one weight per member being the tighter model). Near-duplicate members'
    weights are shrunk together by the penalty ``alpha / 2 * ||w||^2`` added to the mean log
    loss. ``alpha`` is the
    value among ``alphas`` with the lowest held-out log loss over ``cv`` stratified folds (3 by
    default: the fits are cheap but the stack pays for them on every fit, and the penalty only
    matters to within a factor of 10).

    It is not a general-purpose classifier (its columns must be member scores laid out as
    above), which is why it is not exported; pass any scikit-learn classifier as
    ``final_estimator`` instead to stack differently.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(1e-4, 1e-3, 1e-2, 1e-1, 1.0)
        Candidate penalties (non-negative).
    cv : int or cross-validation generator, default=3
        An int means ``StratifiedKFold(cv)`` (unshuffled, as ``LogisticRegressionCV``), with
        fewer folds if a class has fewer rows; with fewer than 2 rows in some class, the
        largest alpha is used.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_members,) or (n_members, n_classes)
        The non-negative weights: per member (two classes), per member and class (more).
    intercept_ : ndarray of shape (n_classes,)
        Class intercepts; the first is 0 (only differences matter).
    alpha_ : float
    cv_log_loss_ : ndarray of shape (n_alphas,)
        Held-out log loss of each candidate ``alpha``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles._meta import _NonNegativeLogisticCV
    >>> rng = np.random.default_rng(0)
    >>> logit = rng.normal(scale=2.0, size=500)
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> Z = np.c_[logit + rng.normal(size=500), -logit]  # a good member and a contrarian
    >>> meta = _NonNegativeLogisticCV().fit(Z, y)
    >>> bool(meta.coef_[0] > 0.3), float(meta.coef_[1])
    (True, 0.0)
    """

    _parameter_constraints: dict = {
        "alphas": ["array-like"],
        "cv": ["cv_object"],
    }

    def __init__(self, alphas=(1e-4, 1e-3, 1e-2, 1e-1, 1.0), cv=3):
        self.alphas = alphas
        self.cv = cv

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Choose ``alpha`` by cross-validated log loss, then fit the pool on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members) or (n_samples, n_members * n_classes)
            The members' log-odds, member after member.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        from sklearn.preprocessing import LabelEncoder

        X, y = validate_data(self, X, y, dtype=np.float64)
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas >= 0):
            raise ValueError(f"alphas must be a non-empty list of floats >= 0, got {alphas}.")
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y)
        K = len(self.classes_)
        if K < 2:
            raise ValueError(
                f"Needs at least 2 classes in y, got one class only ({self.classes_[0]})."
            )
        if K > 2 and X.shape[1] % K:
            raise ValueError(
                f"With {K} classes the input must hold {K} columns per member (their "
                f"log-probabilities, member after member); got {X.shape[1]} columns."
            )
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
        # The problem has a handful of parameters: a multithreaded BLAS only adds thread wake-ups
        # to L-BFGS-B's tiny products (a 150-row stack's meta fit: 1.0 s with OpenBLAS's
        # default threads on 2 busy cores, 0.2 s with one).
        with threadpool_limits(limits=1, user_api="blas"):
            self._fit_pool(X, codes, sw, K, alphas)
        return self

    def _fit_pool(self, X, codes, sw, K, alphas):
        n_params = X.shape[1] + K - 1  # a weight per column, an intercept per class but one
        cv = self.cv
        if isinstance(cv, Integral):
            # A small holdout (blending) may hold fewer rows of a class than there are folds.
            cv = min(int(cv), int(np.bincount(codes).min()))
        if alphas.size == 1 or (isinstance(cv, Integral) and cv < 2):
            # Too few rows of some class to cross-validate: the strongest penalty, which
            # shrinks towards the class frequencies, is the safe choice on so little data.
            self.alpha_ = float(alphas.max())
            self.cv_log_loss_ = np.full(alphas.size, np.nan)
        else:
            cv = check_cv(cv, codes, classifier=True)
            losses = np.zeros(alphas.size)
            for train, test in cv.split(X, codes):
                theta = np.zeros(n_params)
                X_tr, y_tr, sw_tr = X[train], codes[train], sw[train]
                for a, alpha in enumerate(alphas):
                    # Warm start along the path: neighbouring alphas have close optima.
                    theta = _pool_fit(X_tr, y_tr, sw_tr, K, alpha, theta, tight=False)
                    losses[a] += _pool_loss(theta, X[test], codes[test], sw[test], K, 0.0)[0] \
                        * sw[test].sum()
            self.cv_log_loss_ = losses / sw.sum()
            self.alpha_ = float(alphas[int(np.argmin(self.cv_log_loss_))])
        theta = _pool_fit(X, codes, sw, K, self.alpha_, np.zeros(n_params))
        n_w = n_params - (K - 1)
        self.coef_ = theta[:n_w] if K == 2 else theta[:n_w].reshape(-1, K)
        self.intercept_ = np.concatenate([[0.0], theta[n_w:]])

    def decision_function(self, X):
        """Class scores ``b_k + sum_g w_g z_{g,k}`` (binary: the second class's log-odds).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        S = _pool_scores(X, self.coef_.ravel(), self.intercept_[1:], len(self.classes_))
        return S[:, 1] if len(self.classes_) == 2 else S

    def predict_proba(self, X):
        """Softmax of the class scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        S = _pool_scores(X, self.coef_.ravel(), self.intercept_[1:], len(self.classes_))
        return softmax(S, axis=1)

    def predict(self, X):
        """The most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _pool_scores(X, w, b, K):
    """Class scores of the pool: ``(n, K)``, class 0's intercept fixed at 0.

    Two classes: ``X @ w`` feeds class 1. ``K`` classes: ``w`` holds one weight per (member,
    class), and member ``g``'s column for class ``k`` feeds class ``k`` only.
    """
    n = X.shape[0]
    S = np.zeros((n, K))
    if K == 2:
        S[:, 1] = X @ w + b[0]
    else:
        S += np.einsum("ngk,gk->nk", X.reshape(n, -1, K), w.reshape(-1, K))
        S[:, 1:] += b
    return S


def _pool_loss(theta, X, y, sw, K, alpha):
    """Weighted mean log loss + ``alpha / 2 * ||w||^2`` and its gradient in ``theta``."""
    n_w = theta.size - (K - 1)
    w, b = theta[:n_w], theta[n_w:]
    if K == 2:
        return _binary_pool_loss(w, b[0], X, y, sw, alpha)
    S = _pool_scores(X, w, b, K)
    # logsumexp by hand: scipy.special.logsumexp's input handling costs more than the sums.
    top = S.max(axis=1, keepdims=True)
    E = np.exp(S - top)
    sums = E.sum(axis=1)
    lse = top[:, 0] + np.log(sums)
    total = sw.sum()
    loss = float(sw @ (lse - S[np.arange(len(y)), y])) / total + 0.5 * alpha * float(w @ w)
    G = E / sums[:, None]
    G[np.arange(len(y)), y] -= 1.0
    G *= (sw / total)[:, None]
    if K == 2:
        grad_w = X.T @ G[:, 1]
    else:
        grad_w = np.einsum("ngk,nk->gk", X.reshape(len(y), -1, K), G).ravel()
    grad = np.concatenate([grad_w + alpha * w, G[:, 1:].sum(axis=0)])
    return loss, grad


def _binary_pool_loss(w, b, X, y, sw, alpha):
    """:func:`_pool_loss` for two classes, on the score ``s = X @ w + b`` alone.

    The stack fits the pool 16 times (5 penalties by 3 folds, then all rows), a few hundred
    evaluations on every stack fit: the two-column softmax's allocations and reductions cost
    3x the arithmetic, so the two-class case works on ``s`` directly.
    """
    s = X @ w + b
    total = sw.sum()
    # log(1 + e^s) - y s, stable on both tails; y is 0/1.
    loss = float(sw @ (np.logaddexp(0.0, s) - y * s)) / total + 0.5 * alpha * float(w @ w)
    g = sw * (expit(s) - y) / total
    return loss, np.concatenate([X.T @ g + alpha * w, [g.sum()]])


def _pool_fit(X, y, sw, K, alpha, theta0, tight=True):
    """Minimize :func:`_pool_loss` with the member weights bounded below by 0 (L-BFGS-B).

    ``tight``: iterate to a gradient of 1e-9. SciPy's default ftol stops on a relative decrease
    of 2e-9, leaving the weights ~1e-5 from the optimum: good enough to rank penalties in the
    cross-validation, at half the iterations, but not for the final fit.
    """
    n_w = theta0.size - (K - 1)
    bounds = [(0.0, None)] * n_w + [(None, None)] * (K - 1)
    options = {"maxiter": 1000, "gtol": 1e-9, "ftol": 1e-14} if tight else {"maxiter": 1000}
    res = minimize(
        _pool_loss, theta0, args=(X, y, sw, K, alpha), jac=True, method="L-BFGS-B",
        bounds=bounds, options=options,
    )
    return res.x

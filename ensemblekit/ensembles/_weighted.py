"""Weighted averaging of members, weights fitted on out-of-fold predictions."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, _fit_context
from ._base import ArrayLike, BaseOOFEnsemble, prepare_fit
from ._weight_optim import caruana_weights, combine, log_loss_of, nnls_weights, simplex_weights


class _Precomputed(RegressorMixin, BaseEstimator):
    """Lets a scikit-learn scorer evaluate a prediction vector we already have."""

    def __init__(self, pred):
        self.pred = pred

    def predict(self, X):
        return self.pred


class _PrecomputedProba(ClassifierMixin, BaseEstimator):
    """Lets a scikit-learn scorer evaluate class probabilities we already have (codes 0..K-1)."""

    def __init__(self, proba):
        self.proba = proba
        self.classes_ = np.arange(proba.shape[1])

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return np.argmax(self.proba, axis=1)


def make_loss(scoring, y, sample_weight=None, n_classes=None):
    """Turn a scikit-learn ``scoring`` (greater is better) into ``loss(pred)`` to minimize.

    With ``n_classes``, ``y`` holds codes ``0..K-1`` and ``pred`` class probabilities; the log
    loss is then computed directly (:func:`log_loss_of`), as it is called once per candidate.
    """
    if n_classes is not None and scoring == "neg_log_loss":
        return lambda proba: log_loss_of(y, proba, sample_weight)
    scorer = check_scoring(None, scoring=scoring)
    dummy_X = np.zeros((len(y), 1))
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    wrap = _Precomputed if n_classes is None else _PrecomputedProba

    def loss(pred):
        return -float(scorer(wrap(pred), dummy_X, y, **kwargs))

    return loss


class WeightedEnsembleRegressor(RegressorMixin, BaseOOFEnsemble):
    """Weighted average of members, weights optimized on their out-of-fold predictions.

    Members are cross-fitted on one shared shuffled split (as in :class:`StackingCVRegressor`);
    the weights are then fitted on the out-of-fold (OOF) prediction matrix by one of:

    - ``"nnls"``: non-negative least squares without intercept (weights need not sum to 1);
      ``scoring`` is not used.
    - ``"simplex"``: weights ``>= 0`` summing to 1 minimizing ``-scoring`` (SLSQP, multi-start).
    - ``"caruana"``: Caruana's greedy ensemble selection with replacement for
      ``ensemble_size`` steps, best prefix kept (AutoGluon's final ``WeightedEnsemble``).

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members.
    method : {"nnls", "simplex", "caruana"}, default="nnls"
    cv : int, cross-validation generator or iterable, default=5
        An int means shuffled ``KFold`` seeded by ``random_state``.
    scoring : str or callable, default="neg_mean_squared_error"
        A scikit-learn scorer (greater is better) for ``"simplex"`` and ``"caruana"``.
    ensemble_size : int, default=25
        Greedy steps for ``"caruana"``.
    refit : {"full", "average"}, default="full"
        Refit members on all rows, or keep and average the fold models.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int, and seeds every ``random_state`` left None in
        the members.
    verbose : int, default=0

    Attributes
    ----------
    weights_ : ndarray of shape (n_members,)
    estimators_ : list of estimators
    named_estimators_ : Bunch
    member_names_ : list of str
    oof_predictions_ : ndarray of shape (n_samples, n_members)
    oof_counts_ : ndarray of shape (n_samples,)
    cv_splits_ : list of (train, test) index arrays
    oof_score_ : float
        ``scoring`` of the weighted OOF prediction.
    trajectory_ : list of float
        Caruana only: loss after each greedy step.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensembles import WeightedEnsembleRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> ens = WeightedEnsembleRegressor(
    ...     [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))],
    ...     method="caruana", random_state=0,
    ... ).fit(X, y)
    >>> ens.weights_.round(2)
    array([1., 0.])
    """

    _parameter_constraints: dict = {
        **BaseOOFEnsemble._parameter_constraints,
        "method": [StrOptions({"nnls", "simplex", "caruana"})],
        "scoring": [str, callable],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimators,
        *,
        method="nnls",
        cv=5,
        scoring="neg_mean_squared_error",
        ensemble_size=25,
        refit="full",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.method = method
        self.cv = cv
        self.scoring = scoring
        self.ensemble_size = ensemble_size
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        groups: ArrayLike | None = None,
    ) -> WeightedEnsembleRegressor:
        """Cross-fit the members and optimize the weights on their OOF predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to the members and used in the weight optimization.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split``.

        Returns
        -------
        self : object
        """
        X, y, sample_weight, self._task = prepare_fit(self, X, y, sample_weight)
        covered, _ = self._cross_fit(X, y, sample_weight, groups)
        P, yc = self.oof_predictions_[covered], y[covered]
        sw = None if sample_weight is None else sample_weight[covered]
        loss = make_loss(self.scoring, yc, sw)
        if self.method == "nnls":
            self.weights_ = nnls_weights(P, yc, sw)
        elif self.method == "caruana":
            self.weights_, _, self.trajectory_ = caruana_weights(P, loss, self.ensemble_size)
        else:
            self.weights_ = simplex_weights(P, loss)
        self.oof_score_ = -loss(P @ self.weights_)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Weighted sum of the member predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "weights_")
        _, P = self._predict_members(X)
        return P @ self.weights_


class WeightedEnsembleClassifier(ClassifierMixin, BaseOOFEnsemble):
    """Weighted average of members' probabilities, weights fitted on out-of-fold probabilities.

    Members are cross-fitted on one shared, shuffled, stratified split (as in
    :class:`StackingCVClassifier`); the weights are then fitted on their out-of-fold (OOF)
    class probabilities by one of:

    - ``"simplex"``: weights ``>= 0`` summing to 1 minimizing ``-scoring`` of the averaged
      probabilities (SLSQP, multi-start). With the default ``scoring="neg_log_loss"`` the
      probabilities are clipped to ``[eps, 1 - eps]`` and the problem is convex.
    - ``"caruana"``: Caruana's greedy ensemble selection with replacement on any scorer (e.g.
      ``"roc_auc"``); members tied on it are separated by their log loss (AutoGluon's
      ``second_metric``), since rank metrics tie often.

    The averaged probabilities of probability-calibrated members stay calibrated, unlike
    re-weighted training data (see the boosters' ``class_weight``).

    Parameters
    ----------
    estimators : list of (str, estimator)
        The member classifiers; each needs ``predict_proba``.
    method : {"simplex", "caruana"}, default="simplex"
    cv : int, cross-validation generator or iterable, default=5
        An int means ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``.
    scoring : str or callable, default="neg_log_loss"
        A scikit-learn scorer (greater is better) of the averaged probabilities.
    ensemble_size : int, default=25
        Greedy steps for ``"caruana"``.
    refit : {"full", "average"}, default="full"
        Refit members on all rows, or keep and average the fold models.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int, and seeds every ``random_state`` left None in
        the members.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    weights_ : ndarray of shape (n_members,)
        Non-negative, summing to 1.
    estimators_ : list of estimators
        Fitted on the codes ``0..n_classes-1``.
    named_estimators_ : Bunch
    member_names_ : list of str
    stack_method_ : list of str
        ``"predict_proba"`` for every member.
    oof_predictions_ : ndarray of shape (n_samples, n_columns)
        The members' OOF probabilities, laid out as in :class:`StackingCVClassifier`.
    oof_counts_ : ndarray of shape (n_samples,)
    cv_splits_ : list of (train, test) index arrays
    oof_score_ : float
        ``scoring`` of the weighted OOF probabilities.
    trajectory_ : list of float
        Caruana only: loss after each greedy step.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from ensemblekit.ensembles import WeightedEnsembleClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> ens = WeightedEnsembleClassifier(
    ...     [("logreg", LogisticRegression()), ("nb", GaussianNB())], random_state=0,
    ... ).fit(X, y)
    >>> bool(abs(ens.weights_.sum() - 1.0) < 1e-9), ens.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    _parameter_constraints: dict = {
        **BaseOOFEnsemble._parameter_constraints,
        "method": [StrOptions({"simplex", "caruana"})],
        "scoring": [str, callable],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
    }
    _member_methods = ("predict_proba",)

    def __init__(
        self,
        estimators,
        *,
        method="simplex",
        cv=5,
        scoring="neg_log_loss",
        ensemble_size=25,
        refit="full",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.method = method
        self.cv = cv
        self.scoring = scoring
        self.ensemble_size = ensemble_size
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _member_probas(self, P2):
        """Columns laid side by side -> ``(n_samples, n_members, n_classes)``."""
        width = self._task.width("predict_proba")
        blocks = [P2[:, j * width:(j + 1) * width] for j in range(P2.shape[1] // width)]
        return np.stack([self._task.full_proba(b) for b in blocks], axis=1)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        groups: ArrayLike | None = None,
    ) -> WeightedEnsembleClassifier:
        """Cross-fit the members and optimize the weights on their OOF probabilities.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to the members and used in the weight optimization.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split``.

        Returns
        -------
        self : object
        """
        X, y, sample_weight, self._task = prepare_fit(self, X, y, sample_weight)
        self.classes_ = self._task.classes
        covered, _ = self._cross_fit(X, y, sample_weight, groups)
        P = self._member_probas(self.oof_predictions_[covered])
        yc = y[covered]
        sw = None if sample_weight is None else sample_weight[covered]
        K = len(self.classes_)
        loss = make_loss(self.scoring, yc, sw, n_classes=K)
        if self.method == "caruana":
            tie_break = make_loss("neg_log_loss", yc, sw, n_classes=K)
            self.weights_, _, self.trajectory_ = caruana_weights(
                P, loss, self.ensemble_size, tie_break=tie_break)
        else:
            self.weights_ = simplex_weights(P, loss)
        self.oof_score_ = -loss(combine(P, self.weights_))
        return self

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Weighted average of the members' class probabilities.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "weights_")
        _, P = self._predict_members(X)
        return combine(self._member_probas(P), self.weights_)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class with the highest averaged probability.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

"""Cross-validated stacking: a meta-learner trained on out-of-fold member predictions only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, StrOptions, _fit_context, _safe_indexing
from ._base import (
    ArrayLike,
    BaseOOFEnsemble,
    fit_meta_learner,
    meta_features,
    prepare_fit,
    seed_unseeded,
)
from ._meta import NonNegativeRidgeCV, _NonNegativeLogisticCV

# Probabilities are clipped to [_EPS, 1 - _EPS] before their log-odds are taken: a member that
# says 0 exactly would otherwise give -inf, and 1e-6 is far below any calibrated probability.
_EPS = 1e-6

_Stack = TypeVar("_Stack", bound="_BaseStacking")


def log_odds(P: np.ndarray, methods, widths) -> np.ndarray:
    """Members' probability blocks as log-odds; decision-function blocks unchanged.

    One column per member (two classes): ``log(p / (1 - p))`` of the second class. ``K``
    columns per member: centred log-probabilities ``log p_k - mean_j log p_j``, whose softmax
    gives back ``p``. NaN rows (no fold held them out) stay NaN.
    """
    out = np.array(P, dtype=np.float64, copy=True)
    start = 0
    for method, width in zip(methods, widths, strict=True):
        block = out[:, start:start + width]
        if method == "predict_proba":
            p = np.clip(block, _EPS, 1.0 - _EPS)
            if width == 1:
                block[:] = np.log(p) - np.log1p(-p)
            else:
                logp = np.log(p)
                block[:] = logp - logp.mean(axis=1, keepdims=True)
        start += width
    return out


class _BaseStacking(BaseOOFEnsemble):
    """Members cross-fitted on shared splits, a meta-learner fitted on their held-out columns.

    Stacking and blending differ only in the splits (``_splits``): k folds, or one holdout.
    """

    _parameter_constraints: dict = {
        **BaseOOFEnsemble._parameter_constraints,
        "final_estimator": [None, HasMethods(["fit", "predict"])],
        "passthrough": ["boolean"],
    }

    def _prefix(self) -> str:
        return type(self).__name__.lower()

    def _default_final_estimator(self):
        if is_classifier(self):
            if self.passthrough:
                raise ValueError(
                    "passthrough=True needs a final_estimator that takes the original features "
                    "as well (e.g. a BoostingClassifier, or a Pipeline with preprocessing); the "
                    "default meta-learner combines only the members' log-odds."
                )
            return _NonNegativeLogisticCV()
        return NonNegativeRidgeCV()

    def _meta_input(self, X, P):
        """What the meta-learner sees: the member columns (log-odds for classifiers)."""
        if is_classifier(self) and self.metalearner_transform == "logit":
            widths = [self._task.width(m) for m in self.stack_method_]
            P = log_odds(P, self.stack_method_, widths)
        return meta_features(X, P, self._column_names(), self.passthrough, self._prefix())

    def _fit(self, X, y, sample_weight, groups):
        X, y, sample_weight, self._task = prepare_fit(self, X, y, sample_weight)
        if self._task.classes is not None:
            self.classes_ = self._task.classes
        final = (self._default_final_estimator() if self.final_estimator is None
                 else self.final_estimator)
        covered, meta_seed = self._cross_fit(X, y, sample_weight, groups)
        Z = self._meta_input(X, self.oof_predictions_)
        if not covered.all():
            Z = _safe_indexing(Z, covered)
        rows = np.flatnonzero(covered)
        # The meta-learner must see every class too (a holdout can miss a rare one).
        self._task.check_splits([(rows, None)], y, ["the held-out rows the meta-learner uses"])
        sw = None if sample_weight is None else sample_weight[covered]
        self.final_estimator_ = fit_meta_learner(seed_unseeded(final, meta_seed), Z, y[covered],
                                                 sw)
        self._task.check_fitted(self.final_estimator_, "final_estimator",
                                "the out-of-fold predictions")
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self: _Stack,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        groups: ArrayLike | None = None,
    ) -> _Stack:
        """Cross-fit the members, train the meta-learner on their out-of-fold columns.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Numbers (regressors) or class labels of any type, at least two (classifiers).
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to every member fit (Pipelines: to their last step) and to the
            meta-learner.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split`` (e.g. ``GroupKFold``).

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, groups)

    def predict_members(self, X: ArrayLike) -> np.ndarray:
        """The members' columns for ``X``: predictions, or class probabilities (scores).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        P : ndarray of shape (n_samples, n_columns)
            Laid out as ``oof_predictions_``.
        """
        return self._predict_members(X)[1]

    def _final_input(self, X):
        check_is_fitted(self, "final_estimator_")
        X, P = self._predict_members(X)
        return self._meta_input(X, P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.passthrough:
            from sklearn.utils import get_tags

            final = self.final_estimator
            tags.input_tags.sparse = tags.input_tags.sparse and (
                final is not None and get_tags(final).input_tags.sparse
            )
        return tags


class _RegressorStackingMixin:
    """``predict`` of a regression stack or blend."""

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict with the meta-learner on the members' predictions.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        Z = self._final_input(X)
        return self.final_estimator_.predict(Z)


class StackingCVRegressor(_RegressorStackingMixin, RegressorMixin, _BaseStacking):
    """Stack regressors with a meta-learner fitted on out-of-fold predictions.

    Each member is fitted once per fold of one shared, shuffled split; every training row is then
    predicted by fold models that did not see it. The meta-learner (``final_estimator``) is trained
    on these out-of-fold (OOF) predictions only, so it learns how the members behave on unseen
    rows. All member-by-fold fits (and, with ``refit="full"``, the refits on all rows) run in one
    joblib batch.

    Multi-layer stacking: pass another ``StackingCVRegressor`` as ``final_estimator`` (it is then
    trained, with its own folds, on this layer's OOF predictions), or use
    :func:`make_stacking_layers`.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members. Names must be unique; a member can be set to ``"drop"``.
    final_estimator : estimator, default=None
        The meta-learner. ``None`` means :class:`NonNegativeRidgeCV`: non-negative least
        squares with an intercept (the super learner's and H2O's choice) plus a ridge penalty
        chosen by leave-one-out, which shrinks near-duplicate members' weights together.
    cv : int, cross-validation generator or iterable, default=5
        An int ``k`` means ``KFold(k, shuffle=True, random_state=random_state)``. Any splitter
        works; with a splitter whose test folds overlap (e.g. ``RepeatedKFold``) a row's OOF value
        is the mean of its held-out predictions, and rows in no test fold get NaN in
        ``oof_predictions_`` and are left out of the meta-learner's training.
    passthrough : bool, default=False
        Give the meta-learner the original features too (DataFrames stay DataFrames).
    refit : {"full", "average"}, default="full"
        ``"full"`` refits every member on all rows for prediction (fold models are discarded).
        ``"average"`` keeps the fold models and averages their predictions (AutoGluon's bagging),
        saving one fit per member.
    n_jobs : int, default=None
        Joblib workers for the member-by-fold fits.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int, and seeds every ``random_state`` left None in
        the members and the meta-learner (e.g. a booster's early-stopping split), so that a
        seeded stack is reproducible.
    verbose : int, default=0
        Joblib verbosity.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members used at predict time: refitted on all rows, or with
        ``refit="average"`` fitted :class:`KFoldBaggingRegressor` objects holding the fold
        models.
    named_estimators_ : Bunch
        ``estimators_`` by name.
    member_names_ : list of str
        Names of the members not dropped, in column order.
    stack_method_ : list of str
        ``"predict"`` for every member.
    final_estimator_ : estimator
        The fitted meta-learner.
    oof_predictions_ : ndarray of shape (n_samples, n_members)
        Out-of-fold predictions of each member.
    oof_counts_ : ndarray of shape (n_samples,)
        How many test folds held out each row.
    cv_splits_ : list of (train, test) index arrays
        The folds used, shared by all members.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when fitted on a DataFrame with string column names.

    See Also
    --------
    StackingCVClassifier : the same for classifiers, on out-of-fold probabilities.
    BlendingRegressor : meta-learner on a single holdout.
    WeightedEnsembleRegressor : optimized weights instead of a meta-learner.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensembles import StackingCVRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> stack = StackingCVRegressor(
    ...     [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))],
    ...     cv=5, random_state=0,
    ... ).fit(X, y)
    >>> stack.oof_predictions_.shape
    (200, 2)
    >>> stack.predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        cv=5,
        passthrough=False,
        refit="full",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.final_estimator = final_estimator
        self.cv = cv
        self.passthrough = passthrough
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

def _final_has(method):
    def check(self):
        final = getattr(self, "final_estimator_", None)
        if final is None:
            final = self.final_estimator
            return final is None or hasattr(final, method)
        return hasattr(final, method)

    return check


class _ClassifierStackingMixin:
    """``predict``/``predict_proba``/``decision_function`` of a classification stack."""

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities from the meta-learner.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        Z = self._final_input(X)
        return self.final_estimator_.predict_proba(Z)

    @available_if(_final_has("decision_function"))
    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The meta-learner's class scores.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        Z = self._final_input(X)
        return self.final_estimator_.decision_function(Z)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The predicted class labels (the meta-learner's, decoded).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        Z = self._final_input(X)
        codes = self.final_estimator_.predict(Z)
        return self.classes_[np.asarray(codes, dtype=np.intp)]


class StackingCVClassifier(_ClassifierStackingMixin, ClassifierMixin, _BaseStacking):
    """Stack classifiers with a meta-learner fitted on out-of-fold class probabilities.

    Every member is fitted once per fold of one shared, shuffled, stratified split, and predicts
    class probabilities (``decision_function`` where it has none) for the rows it did not see.
    The meta-learner is trained on these out-of-fold (OOF) columns only: one per member for
    two classes (the second class's probability), ``K`` per member for ``K`` classes. By
    default it sees them as log-odds (``metalearner_transform="logit"``), on which a linear
    combination is a pooled probability (H2O's ``metalearner_transform="Logit"``).

    Labels can be anything: they are encoded as ``0..K-1`` once, here, and every member and
    the meta-learner is fitted on the codes (as in scikit-learn's ``StackingClassifier``), so
    members that only accept ``0..K-1`` such as ``XGBClassifier`` work with string labels.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The member classifiers. Names must be unique; a member can be set to ``"drop"``.
    final_estimator : estimator, default=None
        The meta-learner, a classifier. ``None`` means a logistic regression on the members'
        log-odds with one non-negative weight per member shared by all classes and a free
        intercept per class (H2O's non-negative GLM), with the ridge penalty on the weights
        chosen by 3-fold stratified CV of the log loss.
    cv : int, cross-validation generator or iterable, default=5
        An int ``k`` means ``StratifiedKFold(k, shuffle=True, random_state=random_state)``.
        Every training fold must hold every class. Rows no test fold held out get NaN in
        ``oof_predictions_`` and are left out of the meta-learner's training.
    passthrough : bool, default=False
        Give the meta-learner the original features too (needs an explicit
        ``final_estimator`` that can use them).
    refit : {"full", "average"}, default="full"
        ``"full"`` refits every member on all rows; ``"average"`` keeps the fold models and
        averages their probabilities, saving one fit per member.
    metalearner_transform : {"logit", "identity"}, default="logit"
        ``"logit"`` gives the meta-learner the log-odds of the probability columns
        (probabilities clipped to ``[1e-6, 1 - 1e-6]``); ``"identity"`` the probabilities.
        Decision-function columns are passed unchanged either way.
    n_jobs : int, default=None
        Joblib workers for the member-by-fold fits.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int, and seeds every ``random_state`` left None in
        the members and the meta-learner.
    verbose : int, default=0
        Joblib verbosity.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    estimators_ : list of estimators
        The fitted members used at predict time (fitted on the codes ``0..n_classes-1``);
        with ``refit="average"`` fitted :class:`KFoldBaggingClassifier` objects.
    named_estimators_ : Bunch
    member_names_ : list of str
    stack_method_ : list of str
        ``"predict_proba"`` or ``"decision_function"``, per member.
    final_estimator_ : estimator
    oof_predictions_ : ndarray of shape (n_samples, n_columns)
        The members' out-of-fold probabilities (or scores) before the transform, member after
        member: for two classes column ``j`` is member ``j``'s probability of ``classes_[1]``;
        for ``K`` classes columns ``j*K`` to ``j*K + K - 1`` are member ``j``'s probabilities.
        NaN for rows no fold held out.
    oof_counts_ : ndarray of shape (n_samples,)
    cv_splits_ : list of (train, test) index arrays
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    StackingCVRegressor, BlendingClassifier, WeightedEnsembleClassifier

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensembles import StackingCVClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> labels = ["bad", "good"]
    >>> stack = StackingCVClassifier(
    ...     [("logreg", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3))],
    ...     cv=5, random_state=0,
    ... ).fit(X, [labels[v] for v in y])
    >>> stack.oof_predictions_.shape, stack.predict_proba(X[:2]).shape
    ((300, 2), (2, 2))
    >>> stack.predict(X[1:3]).tolist()
    ['good', 'bad']
    """

    _parameter_constraints: dict = {
        **_BaseStacking._parameter_constraints,
        "metalearner_transform": [StrOptions({"logit", "identity"})],
    }

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        cv=5,
        passthrough=False,
        refit="full",
        metalearner_transform="logit",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.final_estimator = final_estimator
        self.cv = cv
        self.passthrough = passthrough
        self.refit = refit
        self.metalearner_transform = metalearner_transform
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

def make_stacking_layers(
    layers: Sequence[list[tuple[str, Any]]], final_estimator: Any = None, **kwargs: Any
) -> StackingCVRegressor | StackingCVClassifier:
    """Build a multi-layer stack from a list of layers by nesting stacks.

    Layer ``i + 1`` is trained, with its own folds, on the out-of-fold predictions of layer
    ``i``, so no layer ever sees a prediction made by a model that was fitted on that row.
    Classifier members give :class:`StackingCVClassifier` layers, regressors
    :class:`StackingCVRegressor` layers.

    Parameters
    ----------
    layers : list of list of (str, estimator)
        The members of each layer, first layer first.
    final_estimator : estimator, default=None
        Meta-learner on top of the last layer (default: the stack's default).
    **kwargs
        Other stack parameters (``cv``, ``refit``, ``n_jobs``, ``random_state``...), applied to
        every layer.

    Returns
    -------
    stack : StackingCVRegressor or StackingCVClassifier
        The first layer; ``final_estimator`` holds the next one.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensembles import make_stacking_layers
    >>> stack = make_stacking_layers(
    ...     [[("ridge", Ridge()), ("tree", DecisionTreeRegressor())],
    ...      [("ridge2", Ridge(alpha=10.0)), ("tree2", DecisionTreeRegressor(max_depth=2))]],
    ...     cv=3, random_state=0)
    >>> type(stack.final_estimator).__name__
    'StackingCVRegressor'
    """
    if not layers or not all(layers):
        raise ValueError("layers must be a non-empty list of lists of (name, estimator).")
    first = next((est for _, est in layers[0] if est != "drop"), None)
    cls = StackingCVClassifier if is_classifier(first) else StackingCVRegressor
    top = final_estimator
    for members in reversed(layers):
        top = cls(members, final_estimator=top, **kwargs)
    return top

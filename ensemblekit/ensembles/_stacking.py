"""Cross-validated stacking: a meta-learner trained on out-of-fold member predictions only."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, _fit_context
from ._base import BaseOOFEnsemble, fit_meta_learner, meta_features, validate_Xy


class StackingCVRegressor(BaseOOFEnsemble):
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
        Shuffles the folds when ``cv`` is an int.
    verbose : int, default=0
        Joblib verbosity.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members used at predict time (``FoldAverage`` wrappers with
        ``refit="average"``).
    named_estimators_ : Bunch
        ``estimators_`` by name.
    member_names_ : list of str
        Names of the members not dropped, in column order.
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

    _parameter_constraints: dict = {
        **BaseOOFEnsemble._parameter_constraints,
        "final_estimator": [None, HasMethods(["fit", "predict"])],
        "passthrough": ["boolean"],
    }

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

    def _prefix(self) -> str:
        return type(self).__name__.lower()

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Cross-fit the members, train the meta-learner on their OOF predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to every member fit (Pipelines: to their last step) and to the
            meta-learner.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split`` (e.g. ``GroupKFold``).

        Returns
        -------
        self : object
        """
        X, y, sample_weight = validate_Xy(self, X, y, sample_weight)
        covered = self._cross_fit(X, y, sample_weight, groups)
        Z = meta_features(
            X, self.oof_predictions_, self.member_names_, self.passthrough, self._prefix()
        )
        if not covered.all():
            from .._compat import _safe_indexing

            Z = _safe_indexing(Z, covered)
        sw = None if sample_weight is None else sample_weight[covered]
        self.final_estimator_ = fit_meta_learner(self.final_estimator, Z, y[covered], sw)
        return self

    def predict_members(self, X):
        """Member predictions for ``X`` (the meta-learner's input without passthrough).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        P : ndarray of shape (n_samples, n_members)
        """
        return self._predict_members(X)[1]

    def predict(self, X):
        """Predict with the meta-learner on the refitted (or fold-averaged) members.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "final_estimator_")
        X, P = self._predict_members(X)
        Z = meta_features(X, P, self.member_names_, self.passthrough, self._prefix())
        return self.final_estimator_.predict(Z)


def make_stacking_layers(layers, final_estimator=None, **kwargs) -> StackingCVRegressor:
    """Build a multi-layer stack from a list of layers by nesting ``StackingCVRegressor``.

    Layer ``i + 1`` is trained, with its own folds, on the out-of-fold predictions of layer
    ``i``, so no layer ever sees a prediction made by a model that was fitted on that row.

    Parameters
    ----------
    layers : list of list of (str, estimator)
        The members of each layer, first layer first.
    final_estimator : estimator, default=None
        Meta-learner on top of the last layer (default: non-negative linear regression).
    **kwargs
        Other ``StackingCVRegressor`` parameters (``cv``, ``refit``, ``n_jobs``,
        ``random_state``...), applied to every layer.

    Returns
    -------
    stack : StackingCVRegressor
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
    if not layers:
        raise ValueError("layers must be a non-empty list of lists of (name, estimator).")
    top = final_estimator
    for members in reversed(layers):
        top = StackingCVRegressor(members, final_estimator=top, **kwargs)
    return top

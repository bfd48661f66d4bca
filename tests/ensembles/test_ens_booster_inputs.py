"""What the boosters accept, and the one message each mistake gets, the same on both backends."""

import io
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensembles import (
    BlendingClassifier,
    BlendingRegressor,
    BoostingClassifier,
    BoostingRegressor,
    KFoldBaggingClassifier,
    KFoldBaggingRegressor,
    StackingCVClassifier,
    StackingCVRegressor,
    WeightedEnsembleClassifier,
    WeightedEnsembleRegressor,
)

BACKENDS = ["xgboost", "lightgbm"]
KW = dict(device="cpu", n_estimators=40, n_jobs=1, random_state=0)


def _exact(msg):
    return f"^{re.escape(msg)}$"


def _csv_frame(n=300, seed=0):
    """A table as ``pd.read_csv`` returns it: text columns (pandas' str dtype), a target."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "city": rng.choice(["Lyon", "Oslo", "Quito"], n),
        "size": rng.normal(size=n),
        "plan": rng.choice(["basic", "pro"], n),
    })
    df["y"] = (df["city"] == "Oslo") * 2.0 + (df["plan"] == "pro") + df["size"]
    df["y"] += rng.normal(scale=0.1, size=n)
    buffer = io.StringIO()
    df.to_csv(buffer, index=False)
    buffer.seek(0)
    raw = pd.read_csv(buffer)
    return raw.drop(columns="y"), raw["y"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_columns_become_categories_with_the_fit_categories(backend):
    X, y = _csv_frame()
    assert not isinstance(X["city"].dtype, pd.CategoricalDtype)  # text, as read_csv gives it
    m = BoostingRegressor(backend, **KW).fit(X, y)
    assert m.categories_["city"].tolist() == ["Lyon", "Oslo", "Quito"]
    base = m.predict(X)
    assert np.corrcoef(base, y)[0, 1] > 0.95  # the text columns were used
    # Categories, or categories listed in another order, or a subset: the same codes.
    as_cat = X.astype({"city": "category", "plan": "category"})
    reordered = X.assign(city=pd.Categorical(X["city"], categories=["Quito", "Oslo", "Lyon"]))
    np.testing.assert_array_equal(m.predict(as_cat), base)
    np.testing.assert_array_equal(m.predict(reordered), base)
    np.testing.assert_array_equal(m.predict(X.iloc[:5]), base[:5])
    # Fitted on categories, predicted on text: the same model.
    on_cats = BoostingRegressor(backend, **KW).fit(as_cat, y)
    np.testing.assert_array_equal(on_cats.predict(X), on_cats.predict(as_cat))
    # A value never seen at fit is a missing value, as an explicit NaN would be.
    unseen = X.iloc[:3].assign(city=["Paris", None, "Oslo"])
    missing = X.iloc[:3].assign(city=[np.nan, np.nan, "Oslo"])
    np.testing.assert_array_equal(m.predict(unseen), m.predict(missing))


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_columns_in_a_classifier_and_a_stack(backend):
    X, y = _csv_frame()
    labels = np.where(y > y.median(), "high", "low")
    clf = BoostingClassifier(backend, **KW).fit(X, labels)
    assert clf.score(X, labels) > 0.8
    stack = StackingCVRegressor([("gb", BoostingRegressor(backend, **KW))], cv=3,
                                random_state=0).fit(X, y)
    assert np.corrcoef(stack.predict(X), y)[0, 1] > 0.95


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_in_a_numeric_column_at_predict_is_named(backend):
    X, y = _csv_frame()
    m = BoostingRegressor(backend, **KW).fit(X, y)
    bad = X.iloc[:4].astype({"size": object})
    bad.loc[2, "size"] = "n/a"
    msg = ("BoostingRegressor: X column 'size' was numeric at fit but holds text such as 'n/a'; "
           "convert it, e.g. pd.to_numeric(X['size'], errors='coerce').")
    with pytest.raises(ValueError, match=_exact(msg)):
        m.predict(bad)


def test_unusable_column_dtype_is_named():
    X, y = _csv_frame()
    X["when"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(len(y)), unit="D")
    msg = ("X column 'when' has dtype datetime64[us], which the boosters cannot use; convert it "
           "to numbers (e.g. a date to days since a reference day) or to a pandas category.")
    with pytest.raises(ValueError, match=_exact(msg)):
        BoostingRegressor("lightgbm", **KW).fit(X, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_in_an_array_is_named(backend):
    X = np.array([[1.0, "a"], [2.0, "b"], [3.0, "a"]], dtype=object)
    msg = ("BoostingRegressor: X column 1 holds text ('a'); pass a pandas DataFrame, whose text "
           "columns become categories, or encode the column.")
    with pytest.raises(ValueError, match=_exact(msg)):
        BoostingRegressor(backend, **KW).fit(X, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("container", ["array", "frame", "csr"])
def test_inf_is_the_same_error_on_both_backends(backend, container):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0]
    X[[4, 9], 2] = [np.inf, -np.inf]
    name = {"array": "2", "frame": "'c'", "csr": "'(sparse)'"}[container]
    if container == "frame":
        X = pd.DataFrame(X, columns=["a", "b", "c"])
    elif container == "csr":
        X = sp.csr_matrix(X)
    msg = (f"BoostingRegressor: X column {name} holds 2 infinite value(s) (inf or -inf), which "
           "XGBoost rejects and LightGBM treats as a huge number. Replace them, e.g. with "
           "X.replace([np.inf, -np.inf], np.nan): NaN is a missing value for both backends.")
    with pytest.raises(ValueError, match=_exact(msg)):
        BoostingRegressor(backend, **KW).fit(X, y)
    # The same at predict time (LightGBM would otherwise predict silently).
    clean = np.nan_to_num(X.toarray() if container == "csr" else np.asarray(X), posinf=0,
                          neginf=0)
    m = BoostingRegressor(backend, **KW).fit(clean, y)
    clean[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"column 1 holds 1 infinite value"):
        m.predict(clean)


@pytest.mark.parametrize("backend", BACKENDS)
def test_string_target_of_a_regressor_is_a_clear_error(backend):
    X, y = _csv_frame()
    msg = ("BoostingRegressor needs a numeric target, but y holds text such as 'Lyon'. For class "
           "labels use a classifier (BoostingClassifier); for numbers stored as text convert y "
           "first, e.g. pd.to_numeric(y).")
    y_text = X["city"].where(X["city"] == "Lyon", "Lyon")  # pandas str dtype, as read_csv
    with pytest.raises(ValueError, match=_exact(msg)):
        BoostingRegressor(backend, **KW).fit(X[["size"]], y_text)
    with pytest.raises(ValueError, match=_exact(msg)):
        BoostingRegressor(backend, **KW).fit(X[["size"]], y_text.to_numpy(dtype=str))
    # Numbers stored as text are numbers.
    m = BoostingRegressor(backend, **KW).fit(X[["size"]], y.astype(str))
    np.testing.assert_allclose(m.predict(X[["size"]]),
                               BoostingRegressor(backend, **KW).fit(X[["size"]], y)
                               .predict(X[["size"]]))


def test_missing_target_values_in_an_object_column_are_an_error():
    X = np.ones((3, 1))
    with pytest.raises(ValueError, match=_exact("Input y contains NaN.")):
        BoostingRegressor("xgboost", **KW).fit(X, np.array([1.0, None, 2.0], dtype=object))


def test_string_target_of_a_regression_stack_is_the_same_error():
    X, _ = _csv_frame()
    msg = ("StackingCVRegressor needs a numeric target, but y holds text such as 'Quito'. For "
           "class labels use a classifier (StackingCVClassifier); for numbers stored as text "
           "convert y first, e.g. pd.to_numeric(y).")
    with pytest.raises(ValueError, match=_exact(msg)):
        StackingCVRegressor([("r", Ridge())]).fit(X[["size"]], np.array(X["city"], dtype=str))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [BoostingRegressor, BoostingClassifier])
def test_csr_input(backend, cls):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    X[X < 0.3] = 0.0
    y = X[:, 0] * 3 + (X[:, 1] == 0) * 2 + rng.normal(scale=0.1, size=400)
    if cls is BoostingClassifier:
        y = np.where(y > np.median(y), "up", "down")
    Xs = sp.csr_matrix(X)
    m = cls(backend, **KW).fit(Xs, y)
    method = "predict" if cls is BoostingRegressor else "predict_proba"
    on_csr = getattr(m, method)(Xs)
    # Dense input at predict is read as the fit's format (XGBoost: absent entries = missing).
    np.testing.assert_allclose(getattr(m, method)(X), on_csr, rtol=1e-6)
    if backend == "lightgbm":  # LightGBM: sparse zeros are zeros, the same model as dense
        dense = cls(backend, **KW).fit(X, y)
        np.testing.assert_allclose(getattr(dense, method)(X), on_csr, rtol=1e-6)


# lsqr on both formats, to a tight tolerance: Ridge's default picks other solvers for CSR.
_REG = [("ridge", Ridge(solver="lsqr", tol=1e-12)),
        ("tree", DecisionTreeRegressor(max_depth=3, random_state=0)),
        ("gb", BoostingRegressor("lightgbm", **KW))]
_CLF = [("logreg", LogisticRegression()),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("gb", BoostingClassifier("xgboost", **KW))]


@pytest.mark.parametrize(
    "make",
    [
        lambda: StackingCVRegressor(_REG, cv=3, random_state=0),
        lambda: StackingCVRegressor(_REG, final_estimator=_REG[0][1], passthrough=True, cv=3,
                                    random_state=0),
        lambda: BlendingRegressor(_REG, random_state=0),
        lambda: WeightedEnsembleRegressor(_REG, cv=3, random_state=0),
        lambda: KFoldBaggingRegressor(BoostingRegressor("xgboost", **KW), cv=3, random_state=0),
        lambda: StackingCVClassifier(_CLF, cv=3, random_state=0),
        lambda: BlendingClassifier(_CLF, random_state=0),
        lambda: WeightedEnsembleClassifier(_CLF, cv=3, random_state=0),
        lambda: KFoldBaggingClassifier(BoostingClassifier("lightgbm", **KW), cv=3,
                                       random_state=0),
    ],
    ids=["stack", "stack-passthrough", "blend", "weighted", "bag", "stack-clf", "blend-clf",
         "weighted-clf", "bag-clf"],
)
def test_ensembles_accept_csr_and_match_dense(make):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    X[X < 0.0] = 0.0
    y = X @ np.array([2.0, -1.0, 0.5, 0.0, 1.0]) + rng.normal(scale=0.1, size=300)
    ens = make()
    if hasattr(ens, "predict_proba"):
        y = np.where(y > np.median(y), "pos", "neg")
    on_csr = make().fit(sp.csr_matrix(X), y)
    on_dense = make().fit(X, y)
    method = "predict_proba" if hasattr(ens, "predict_proba") else "predict"
    # The same folds and members: only XGBoost reads sparse zeros differently (as missing).
    xgb_inside = "xgboost" in repr(ens.get_params())
    p_csr, p_dense = getattr(on_csr, method)(sp.csr_matrix(X)), getattr(on_dense, method)(X)
    assert p_csr.shape == p_dense.shape
    if not xgb_inside:
        np.testing.assert_allclose(p_csr, p_dense, rtol=1e-6, atol=1e-8)

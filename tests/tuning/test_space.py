import numpy as np
import pytest
from scipy.stats import loguniform, randint
from sklearn.linear_model import Ridge

from ensemblekit.tuning import BayesSearchCV, Categorical, Integer, Real
from ensemblekit.tuning._space import SearchSpace, Space


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Real(1.0, 1.0), "Empty range"),
        (lambda: Real(2.0, 1.0), "Inverted range"),
        (lambda: Integer(5, 2), "Inverted range"),
        (lambda: Real(0.0, 1.0, prior="log-uniform"), "low > 0"),
        (lambda: Integer(0, 10, prior="log-uniform"), "low > 0"),
        (lambda: Real(-1.0, 1.0, prior="log"), "prior must be"),
        (lambda: Categorical([]), "must not be empty"),
        (lambda: Integer(1.5, 3), "must be an int"),
    ],
)
def test_bad_dimensions(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_encode_decode_round_trip_and_bounds():
    sp = Space(
        {
            "r": Real(1e-4, 1e2, prior="log-uniform"),
            "i": Integer(1, 1000, prior="log-uniform"),
            "j": Integer(-3, 3),
            "c": Categorical(["a", None, 3]),
            "d": loguniform(1e-3, 1e1),
            "k": randint(2, 9),
            "l": [True, False],
        }
    )
    rng = np.random.RandomState(0)
    for p in sp.sample(rng, 200):
        x = sp.encode(p)
        assert x.shape == (sp.n_coords,) and np.all((x >= -1e-9) & (x <= 1 + 1e-9))
        q = sp.decode(x)
        assert q["c"] is p["c"] or q["c"] == p["c"]
        assert q["i"] == p["i"] and q["j"] == p["j"] and q["k"] == p["k"] and q["l"] == p["l"]
        assert np.isclose(q["r"], p["r"], rtol=1e-9) and np.isclose(q["d"], p["d"], rtol=1e-6)
        assert sp.from_json(sp.to_json(p)) == p
        assert 1e-4 <= p["r"] <= 1e2 and 1 <= p["i"] <= 1000 and 2 <= p["k"] < 9


def test_log_prior_samples_every_decade():
    sp = Space({"r": Real(1e-4, 1.0, prior="log-uniform"), "i": Integer(-2, 2)})
    draws = sp.sample(np.random.RandomState(0), 4000)
    decades = np.floor(np.log10([d["r"] for d in draws]))
    counts = np.bincount((decades + 4).astype(int), minlength=4)
    assert counts.min() > 800  # about 1000 per decade, not 90% in the top one
    ints = np.bincount([d["i"] + 2 for d in draws], minlength=5)
    assert ints.min() > 650  # the end points get their fair share too


def test_unknown_parameter_names_list_valid_ones():
    from sklearn.linear_model import Ridge

    with pytest.raises(ValueError, match=r"Invalid parameter name\(s\) \['alpah'\].*'alpha'"):
        SearchSpace({"alpah": [1, 2]}).check_names(Ridge())


def test_unsupported_values():
    with pytest.raises(ValueError, match="expected a Real"):
        Space({"a": 3})
    with pytest.raises(ValueError, match="non-empty"):
        SearchSpace([])


def test_search_space_repr_reads_like_the_spec():
    one = SearchSpace({"alpha": Real(1e-4, 10.0, prior="log-uniform")})
    assert repr(one) == "SearchSpace({'alpha': Real(low=0.0001, high=10.0, prior='log-uniform')})"
    two = SearchSpace({"l1_ratio": Real(0.0, 1.0), "alpha": Real(1e-4, 10.0, prior="log-uniform")})
    assert repr(two) == (
        "SearchSpace({\n"
        "    'alpha': Real(low=0.0001, high=10.0, prior='log-uniform'),\n"
        "    'l1_ratio': Real(low=0.0, high=1.0, prior='uniform'),\n"
        "})"
    )
    conditional = SearchSpace(
        [{"alpha": loguniform(1e-3, 1.0)}, {"kind": ["a", None], "n": Integer(1, 5)}]
    )
    assert repr(conditional) == (
        "SearchSpace([\n"
        "    {'alpha': loguniform(0.001, 1.0)},\n"
        "    {\n"
        "        'kind': Categorical(choices=['a', None]),\n"
        "        'n': Integer(low=1, high=5, prior='uniform'),\n"
        "    },\n"
        "])"
    )
    short = SearchSpace([{"a": [1, 2]}, {"b": [3]}])
    assert repr(short) == (
        "SearchSpace([{'a': Categorical(choices=[1, 2])}, {'b': Categorical(choices=[3])}])"
    )


def test_fitted_search_space_repr_and_stable_signature():
    X = np.arange(40, dtype=float).reshape(20, 2)
    s = BayesSearchCV(
        Ridge(), {"alpha": loguniform(1e-3, 1e3)}, n_iter=2, n_initial_points=2, cv=2
    ).fit(X, X[:, 0])
    assert repr(s.space_) == "SearchSpace({'alpha': loguniform(0.001, 1000.0)})"
    # The signature is part of stored trial logs' headers; it must not follow the repr.
    assert s.space_.signature() == (
        "[{alpha: Distribution(loguniform, args=(0.001, 1000.0), kwds=[])}]"
    )

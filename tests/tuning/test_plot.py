import re
from types import SimpleNamespace

import numpy as np
import pytest
from _tuning_helpers import Quadratic

from ensemblekit.tuning import (
    BayesSearchCV,
    Categorical,
    Real,
    plot_optimization_history,
    plot_parameter_scores,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_plots_show_every_trial_and_the_running_best():
    X, y = np.arange(40, dtype=float).reshape(20, 2), np.zeros(20)
    s = BayesSearchCV(
        Quadratic(),
        {"a": Real(1e-3, 10.0, prior="log-uniform"), "kind": Categorical(["x", "y"])},
        n_iter=6,
        n_initial_points=3,
        cv=2,
        random_state=0,
    ).fit(X, y)
    ax = plot_optimization_history(s, clip=None)
    scores = s.cv_results_["mean_test_score"]
    pts = ax.collections[0].get_offsets()
    np.testing.assert_allclose(pts[:, 1], scores)
    best = ax.lines[0].get_ydata()
    np.testing.assert_allclose(best, np.maximum.accumulate(scores))
    fig = plot_parameter_scores(s)
    assert [a.get_xlabel() for a in fig.axes] == ["a", "kind"]
    assert fig.axes[0].get_xscale() == "log"
    assert len(fig.axes[1].collections[0].get_offsets()) == 6
    with pytest.raises(ValueError, match="not fitted"):
        plot_optimization_history(BayesSearchCV(Quadratic(), {"a": Real(0, 1)}))


def _fitted(scores):
    """The parts of a fitted search that the plots read."""
    scores = np.asarray(scores, dtype=float)
    return SimpleNamespace(
        cv_results_={"mean_test_score": scores, "params": [{"a": i} for i in range(len(scores))]},
        refit=True,
    )


# neg_mean_squared_error of 8 trials, one of them diverged
BAD_TRIAL = [-1.0, -0.8, -0.5, -1e6, -0.4, -0.45, -0.3, -0.6]


def test_one_bad_trial_does_not_squash_the_history():
    ax = plot_optimization_history(_fitted(BAD_TRIAL))
    low, high = ax.get_ylim()
    assert -1.1 < low < -1.0 and -0.3 < high < -0.2  # the good trials fill the axis
    trials, clipped = ax.collections
    np.testing.assert_array_equal(trials.get_offsets()[:, 0], [1, 2, 3, 5, 6, 7, 8])
    np.testing.assert_array_equal(clipped.get_offsets(), [[4, low]])  # on the bottom edge
    assert clipped.get_label() == "1 trial off the axis"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "trial",
        "best so far",
        "1 trial off the axis",
    ]
    # the running best is not affected by the clipping
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), np.maximum.accumulate(BAD_TRIAL))

    unclipped = plot_optimization_history(_fitted(BAD_TRIAL), clip=None)
    assert unclipped.get_ylim()[0] < -1e6 and len(unclipped.collections) == 1


def test_explicit_clip_limits():
    ax = plot_optimization_history(_fitted(BAD_TRIAL), clip=(-0.9, None))
    assert ax.get_ylim()[0] == -0.9
    clipped = ax.collections[1]
    np.testing.assert_array_equal(clipped.get_offsets(), [[1, -0.9], [4, -0.9]])
    assert clipped.get_label() == "2 trials off the axis"


def test_log_scale_draws_errors_with_the_best_at_the_bottom():
    ax = plot_optimization_history(_fitted(BAD_TRIAL), yscale="log", clip=None)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "-(mean test score)"
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], -np.array(BAD_TRIAL))
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), np.minimum.accumulate(-np.array(BAD_TRIAL))
    )
    # on the log axis the diverged trial is 6 decades out: clipped at the top by default
    auto = plot_optimization_history(_fitted(BAD_TRIAL), yscale="log")
    np.testing.assert_array_equal(auto.collections[1].get_offsets()[:, 0], [4])
    assert auto.collections[1].get_offsets()[0, 1] == auto.get_ylim()[1]
    assert auto.get_ylim()[1] < 2


def test_positive_scores_on_a_log_axis_are_drawn_as_they_are():
    ax = plot_optimization_history(_fitted([0.5, 0.7, 0.9]), yscale="log")
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], [0.5, 0.7, 0.9])
    assert ax.get_ylabel() == "mean test score"


@pytest.mark.parametrize(
    "kw, msg",
    [
        (
            dict(yscale="log"),
            "yscale='log' needs finite scores all of one sign (no zero); got scores from -1 to "
            "0.5. Use yscale='linear' (clip= keeps outliers from squashing it).",
        ),
        (dict(yscale="symlog"), "yscale must be 'linear' or 'log', got 'symlog'"),
        (dict(clip="tight"), "clip must be 'auto', a (low, high) pair or None, got 'tight'"),
        (dict(clip=3.0), "clip must be 'auto', a (low, high) pair or None, got 3.0"),
        (dict(clip=(1.0, 0.0)), "clip=(low, high) needs low < high, got (1.0, 0.0)"),
    ],
)
def test_bad_plot_options(kw, msg):
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        plot_optimization_history(_fitted([-1.0, 0.5, 0.2, 0.1]), **kw)


def test_limits_that_leave_no_trial_on_the_axis():
    ax = plot_optimization_history(_fitted(BAD_TRIAL), clip=(1.0, None))
    assert ax.get_ylim()[0] == 1.0
    assert len(ax.collections[1].get_offsets()) == 8  # every trial on the bottom edge

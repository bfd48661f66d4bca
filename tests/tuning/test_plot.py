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
    ax = plot_optimization_history(s)
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

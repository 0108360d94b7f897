"""The lift statistics against reference computations (SciPy, and Newcombe's 1998 paper)."""
import pytest
from scipy import stats as sp

from campaigns import stats


@pytest.mark.parametrize("df", [1, 2.5, 7, 30, 123.4, 5000])
@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy(p, df):
    assert stats.t_quantile(p, df) == pytest.approx(sp.t.ppf(p, df), rel=1e-9)
    assert stats.t_quantile(1 - p, df) == pytest.approx(sp.t.ppf(1 - p, df), rel=1e-9)


@pytest.mark.parametrize("x,n", [(0, 10), (1, 10), (56, 70), (48, 80), (10, 10), (3, 500)])
def test_wilson_interval_matches_scipy(x, n):
    ref = sp.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = stats.wilson_interval(x, n)
    assert low == pytest.approx(ref.low, abs=1e-9)
    assert high == pytest.approx(ref.high, abs=1e-9)


def test_newcombe_textbook_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II example (a):
    # 56/70 vs 48/80, difference 0.2000, method 10 interval 0.0524 to 0.3339.
    result = stats.proportion_difference(56, 70, 48, 80)
    assert result["difference"] == pytest.approx(0.2)
    assert round(result["ci_low"], 4) == 0.0524
    assert round(result["ci_high"], 4) == 0.3339
    assert result["verdict"] == "higher"


def test_newcombe_boundary_example():
    # Same paper, example (e)-like extreme: 0/10 vs 0/20 -> interval -0.1611 to 0.2775.
    result = stats.proportion_difference(0, 10, 0, 20)
    assert result["difference"] == 0
    assert round(result["ci_low"], 4) == -0.1611
    assert round(result["ci_high"], 4) == 0.2775


def test_welch_interval_matches_scipy():
    treated = [0, 0, 12.5, 40, 0, 99.9, 15, 0, 0, 7.25, 60, 0]
    holdout = [0, 10, 0, 0, 0, 5, 0, 30]
    ref = sp.ttest_ind(treated, holdout, equal_var=False).confidence_interval(0.95)
    n1, m1, v1 = stats.summary_from_sums(len(treated), sum(treated), sum(x * x for x in treated))
    n2, m2, v2 = stats.summary_from_sums(len(holdout), sum(holdout), sum(x * x for x in holdout))
    result = stats.mean_difference(n1, m1, v1, n2, m2, v2)
    assert result["difference"] == pytest.approx(sum(treated) / 12 - sum(holdout) / 8)
    assert result["ci_low"] == pytest.approx(ref.low, rel=1e-9)
    assert result["ci_high"] == pytest.approx(ref.high, rel=1e-9)
    assert result["verdict"] == "too_small"  # 8 and 12 per arm, under 30


def test_verdicts_in_words():
    assert stats.verdict(29, 500, 0.1, 0.2)["verdict"] == "too_small"
    assert stats.verdict(30, 30, -0.1, 0.2)["verdict"] == "no_difference"
    assert stats.verdict(30, 30, 0.01, 0.2)["verdict"] == "higher"
    assert stats.verdict(30, 30, -0.3, -0.2)["verdict"] == "lower"
    assert "includes zero" in stats.verdict(30, 30, -0.1, 0.2)["verdict_words"]
    assert "fewer than 30" in stats.verdict(3, 30, 0.1, 0.2)["verdict_words"]


def test_empty_arm_gives_no_interval():
    result = stats.proportion_difference(0, 0, 3, 40)
    assert result["difference"] is None and result["ci_low"] is None
    assert result["verdict"] == "too_small"


@pytest.mark.parametrize("args", [(5, 4, 1, 2), (-1, 4, 1, 2)])
def test_impossible_counts_are_refused(args):
    with pytest.raises(ValueError):
        stats.proportion_difference(*args)

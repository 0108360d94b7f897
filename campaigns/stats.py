"""Statistics for campaign lift and A/B tests. Pure: no queries, no Django.

* Difference of two proportions (conversion rate, treated minus holdout) with Newcombe's
  hybrid score interval (Newcombe 1998, "method 10"), built from the two Wilson score
  intervals. Unlike the Wald interval it stays inside [-1, 1] and keeps its coverage with
  small counts or rates near 0 or 1, which is what campaign conversion rates look like.
* Difference of two means (revenue per customer) with Welch's interval: the unpooled
  standard error and Student's t with the Welch-Satterthwaite degrees of freedom.
* A plain verdict: "too small to tell" when either arm has fewer than `MIN_PER_ARM`
  members; otherwise "no clear difference" when the interval includes zero; otherwise the
  direction ("higher" / "lower").
"""
from __future__ import annotations

import math
from statistics import NormalDist



def gettext_noop(text: str) -> str:
    """Marks a sentence for the translation catalogs (makemessages looks for this name)
    without importing Django: the verdicts stay English here and in the API, and the admin
    translates them where it shows them."""
    return text


CONFIDENCE = 0.95
# Fewer members than this in either arm and we do not draw a conclusion at all.
MIN_PER_ARM = 30

VERDICT_WORDS = {
    "too_small": "Too small to tell: fewer than {n} in an arm.",
    "no_difference":
        # xgettext:no-python-format
        gettext_noop("No clear difference: the 95 % interval includes zero."),
    "higher":
        # xgettext:no-python-format
        gettext_noop("Treated is higher: the whole 95 % interval is above zero."),
    "lower":
        # xgettext:no-python-format
        gettext_noop("Treated is lower: the whole 95 % interval is below zero."),
}
# The too-small verdict as the admin shows it (with the usual MIN_PER_ARM).
gettext_noop("Too small to tell: fewer than 30 in an arm.")
# The same verdicts said of an A/B variant against the step's control variant.
VARIANT_VERDICT_WORDS = {
    "too_small": f"Too small to tell: fewer than {MIN_PER_ARM} sends in a variant.",
    "no_difference":
        # xgettext:no-python-format
        gettext_noop("No clear difference from the control: the 95 % interval includes zero."),
    "higher":
        # xgettext:no-python-format
        gettext_noop("Converts better than the control: the whole 95 % interval is above zero."),
    "lower":
        # xgettext:no-python-format
        gettext_noop("Converts worse than the control: the whole 95 % interval is below zero."),
}
gettext_noop("Too small to tell: fewer than 30 sends in a variant.")


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1, e.g. 0.95")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for one proportion (no continuity correction)."""
    _check_counts(successes, n)
    if n == 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0:
        raise ValueError("counts cannot be negative")
    if successes > n:
        raise ValueError(f"{successes} successes out of {n} is impossible")


def verdict(n1: int, n2: int, low: float | None, high: float | None,
            min_per_arm: int = MIN_PER_ARM) -> dict:
    """The plain-language conclusion for a difference (treated minus control)."""
    if min(n1, n2) < min_per_arm or low is None or high is None:
        code = "too_small"
    elif low <= 0 <= high:
        code = "no_difference"
    elif low > 0:
        code = "higher"
    else:
        code = "lower"
    return {"verdict": code, "verdict_words": VERDICT_WORDS[code].format(n=min_per_arm)}


def proportion_difference(x1: int, n1: int, x2: int, n2: int,
                          confidence: float = CONFIDENCE) -> dict:
    """p1 - p2 (arm 1 = treated, arm 2 = holdout/control) with Newcombe's hybrid score interval."""
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    p1 = x1 / n1 if n1 else None
    p2 = x2 / n2 if n2 else None
    low = high = diff = None
    if n1 and n2:
        l1, u1 = wilson_interval(x1, n1, confidence)
        l2, u2 = wilson_interval(x2, n2, confidence)
        diff = p1 - p2
        low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {"rate_1": p1, "rate_2": p2, "difference": diff, "ci_low": low, "ci_high": high,
            "method": "newcombe-wilson", **verdict(n1, n2, low, high)}


def summary_from_sums(n: int, total: float, total_of_squares: float) -> tuple[int, float | None, float | None]:
    """(n, mean, sample variance) from count, sum and sum of squares (as SQL gives them)."""
    if n < 0:
        raise ValueError("count cannot be negative")
    if n == 0:
        return (0, None, None)
    mean = total / n
    if n == 1:
        return (1, mean, None)
    variance = max(0.0, (total_of_squares - n * mean * mean) / (n - 1))
    return (n, mean, variance)


def mean_difference(n1: int, mean1: float | None, var1: float | None,
                    n2: int, mean2: float | None, var2: float | None,
                    confidence: float = CONFIDENCE) -> dict:
    """mean1 - mean2 with Welch's t interval (unequal variances)."""
    low = high = diff = None
    if n1 >= 2 and n2 >= 2 and var1 is not None and var2 is not None:
        diff = mean1 - mean2
        a, b = var1 / n1, var2 / n2
        se = math.sqrt(a + b)
        if se == 0:
            low = high = diff
        else:
            df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
            half = t_quantile(0.5 + confidence / 2, df) * se
            low, high = diff - half, diff + half
    elif n1 and n2:
        diff = mean1 - mean2
    return {"mean_1": mean1, "mean_2": mean2, "difference": diff, "ci_low": low, "ci_high": high,
            "method": "welch-t", **verdict(n1, n2, low, high)}


# Student's t from the regularized incomplete beta function (continued fraction,
# modified Lentz), so the runtime needs nothing beyond the standard library.

def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return h


def _regularized_beta(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_continued_fraction(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    if df <= 0:
        raise ValueError("degrees of freedom must be above 0")
    tail = 0.5 * _regularized_beta(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value with P(T <= t) = p, by bisection on the CDF (to ~1e-12)."""
    if not 0 < p < 1:
        raise ValueError("p must be between 0 and 1")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2

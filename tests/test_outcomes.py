"""The sweep's outcome classes, on hand-made summaries, every boundary included."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import outcomes
from builder.analysis.outcomes import LOSS_THRESHOLD as L, RATIO_THRESHOLD as R

HIGH_TRAIN, HIGH_TEST, TOGETHER, GROKKING = range(4)


@pytest.mark.parametrize("train, test, ratio, expected", [
    (0.3, 0.7, 2.0, HIGH_TRAIN),
    (L, 1e-9, 1e9, HIGH_TRAIN),  # exactly at the threshold is not under it
    (L * (1 - 1e-9), 0.7, 1e9, HIGH_TEST),  # just under: the train loss did go under
    (1e-8, L, 1e9, HIGH_TEST),  # test exactly at the threshold
    (1e-8, 0.5, 1.0, HIGH_TEST),  # memorized, whatever the ratio
    (1e-8, 1e-7, 10.0, TOGETHER),
    (1e-8, 1e-7, R * (1 - 1e-9), TOGETHER),  # just under the ratio threshold
    (1e-8, 1e-7, R, GROKKING),  # exactly at it is not under it
    (1e-8, 1e-7, 1e12, GROKKING),
])
def test_classes_and_boundaries(train, test, ratio, expected):
    assert outcomes.classify(train, test, ratio).item() == expected


def test_order_of_checks_wins():
    # a high train loss hides everything else; a high test loss hides the ratio
    assert outcomes.classify(1.0, 1.0, 1e9).item() == HIGH_TRAIN
    assert outcomes.classify(1e-9, 1.0, 1e9).item() == HIGH_TEST


def test_vectorized_with_custom_thresholds_and_unfinished_runs():
    train = np.array([1e-3, 1e-6, 1e-6, 1e-6, np.nan])
    test = np.array([1e-3, 1e-3, 1e-6, 1e-6, np.nan])
    ratio = np.array([1.0, 1.0, 10.0, 1e6, np.nan])
    codes = outcomes.classify(train, test, ratio)
    assert codes.tolist() == [0, 1, 2, 3, outcomes.UNFINISHED]
    assert outcomes.counts(codes) == dict(zip(outcomes.CLASSES, [1, 1, 1, 1]))
    # a looser loss threshold and a stricter ratio threshold move runs between classes
    assert outcomes.classify(train, test, ratio, 1e-2, 5.0).tolist() == [2, 2, 3, 3, -1]
    assert outcomes.classify(train[:1], test[:1], ratio[:1], 1e-2, 1.0).tolist() == [3]


def test_defaults_and_class_names():
    assert outcomes.LOSS_THRESHOLD == 1e-5 and outcomes.RATIO_THRESHOLD == 5e4
    assert outcomes.CLASSES == ("high train loss", "high test loss",
                                "train and test drop together", "grokking")
    arrays = {"min_train_loss": np.array([1.0]), "min_test_loss": np.array([1.0]),
              "max_ratio": np.array([1.0])}
    assert outcomes.classify_sweep(arrays).tolist() == [0]


# ---- the page's rule: the Vega expression the sweep figures recolour with ----------------------

def vega_eval(expression: str, env: dict):
    """A tiny evaluator for the Vega expressions the outcome rule is written as: names, numbers,
    'strings', comparisons and (right-associative) `c ? a : b`. Anything else is an error."""
    import operator
    import re

    token = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:e[-+]?\d+)?)|('[^']*')|([A-Za-z_][\w.]*)|(>=|<=|==|!=|[<>?:]))")
    tokens, at = [], 0
    while at < len(expression.rstrip()):
        m = token.match(expression, at)
        assert m and m.end() > at, f"cannot read {expression[at:]!r}"
        number, string, name, op = m.groups()
        tokens.append(("lit", float(number)) if number else ("lit", string[1:-1]) if string
                      else ("var", name) if name else ("op", op))
        at = m.end()
    compare = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
               "<": operator.lt, ">": operator.gt}

    def operand(i):
        kind, value = tokens[i]
        assert kind in ("lit", "var"), f"unexpected {value!r}"
        return (value if kind == "lit" else env[value]), i + 1

    def ternary(i):
        value, i = operand(i)
        if i < len(tokens) and tokens[i][1] in compare:
            right, i = operand(i + 1)
            value = compare[tokens[i - 2][1]](value, right)
        if i < len(tokens) and tokens[i] == ("op", "?"):
            yes, i = ternary(i + 1)
            assert tokens[i] == ("op", ":"), "a ? without its :"
            no, i = ternary(i + 1)
            value = yes if value else no
        return value, i

    value, end = ternary(0)
    assert end == len(tokens), f"left over: {tokens[end:]}"
    return value


def test_the_evaluator_reads_what_it_should():
    assert vega_eval("x >= 2 ? 'a' : y < 1e3 ? 'b' : 'c'", {"x": 1.0, "y": 10.0}) == "b"
    with pytest.raises((AssertionError, KeyError)):
        vega_eval("x + 1", {"x": 1.0})


def test_the_pages_expression_and_the_python_rule_agree_on_a_grid():
    """The sweep figures classify runs in the browser with _sweep.CLASSIFY (written from
    outcomes.RULES); at any thresholds and summaries, boundaries included, it names the class
    outcomes.classify gives."""
    import itertools

    from builder.figures import _sweep

    losses = (0.3, L, L * (1 - 1e-9), L * (1 + 1e-9), 1e-8, 1e-2, 0.0)
    ratios = (1.0, R, R * (1 - 1e-9), R * (1 + 1e-9), 1e12, 5.0, 0.0)
    thresholds = ((L, R), (1e-2, 5.0), (1e-8, 1.0), (0.3, 1e12))
    checked = set()
    for (loss, ratio), train, test, r in itertools.product(thresholds, losses, losses, ratios):
        python = outcomes.CLASSES[outcomes.classify(train, test, r, loss, ratio).item()]
        env = {"datum.mtr": train, "datum.mte": test, "datum.mr": r, "loss_thr": loss, "ratio_thr": ratio}
        assert vega_eval(_sweep.CLASSIFY, env) == python, (train, test, r, loss, ratio)
        checked.add(python)
    assert checked == set(outcomes.CLASSES)  # the grid reaches every class
    assert _sweep.CLASSES == outcomes.CLASSES
    assert (_sweep.DEFAULT_LOSS, _sweep.DEFAULT_RATIO) == (L, R)


def test_wilson_interval():
    from builder.analysis.outcomes import wilson

    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(1.959964 ** 2 / (10 + 1.959964 ** 2))  # k = 0: not empty
    assert wilson(10, 10) == pytest.approx((1 - high, 1.0))  # symmetric
    low, high = wilson(7, 12)
    assert low < 7 / 12 < high and (round(low, 3), round(high, 3)) == (0.320, 0.807)
    with pytest.raises(ValueError, match="k <= n"):
        wilson(13, 12)


# -- the Wilson interval of a share of a few runs ---------------------------------------------
def test_wilson_interval_known_values_and_ends():
    assert outcomes.wilson(5, 6) == pytest.approx((0.4365, 0.9699), abs=1e-4)
    assert outcomes.wilson(1, 3) == pytest.approx((0.0615, 0.7923), abs=1e-4)
    lo, hi = outcomes.wilson(0, 6)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.3903, abs=1e-4)  # never empty at 0 of n
    lo, hi = outcomes.wilson(3, 3)
    assert hi == 1.0 and lo == pytest.approx(0.4385, abs=1e-4)
    # more runs at the same share: a narrower interval around it
    widths = [np.subtract(*outcomes.wilson(k, n)[::-1]) for k, n in ((1, 2), (3, 6), (15, 30), (150, 300))]
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert all(lo <= k / n <= hi for k, n in ((2, 7), (13, 15), (45, 108)) for lo, hi in [outcomes.wilson(k, n)])


def test_wilson_interval_of_no_runs_is_an_error():
    with pytest.raises(ValueError, match="n > 0"):
        outcomes.wilson(0, 0)


def test_wilson_interval_textbook():
    from builder.analysis.outcomes import wilson
    from builder.facts import rate

    low, high = wilson(3, 12)
    assert round(low, 3) == 0.089 and round(high, 3) == 0.532  # the textbook values for 3 of 12
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1
    assert wilson(0, 10)[1] > 0.2 and wilson(10, 10)[0] < 0.8  # no false certainty at the ends
    assert rate((3, 12)) == "3 of 12 (95% interval 9–53%)"
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson(5, 4)
def test_the_wilson_interval():
    """Known values: 0 of 10 gives 0-27.75%; the interval is symmetric in k <-> n - k and
    narrows with n; bad counts are refused."""
    from builder.analysis.outcomes import wilson

    low, high = wilson(0, 10)
    assert low == 0.0 and abs(high - 0.2775) < 1e-4
    a, b = wilson(7, 12)
    c, d = wilson(5, 12)
    assert abs(a - (1 - d)) < 1e-12 and abs(b - (1 - c)) < 1e-12
    assert abs(a - 0.3195) < 1e-4 and abs(b - 0.8067) < 1e-4
    assert wilson(64, 128)[1] - wilson(64, 128)[0] < b - a
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson(3, 2)

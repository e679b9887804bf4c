"""Paired differences between methods over seeds (``diffsolvers.experiments.paired``).

Checked against a hand computation and against SciPy's paired t-test: the two-sided
``1 − α`` interval of the mean difference excludes zero exactly when the paired test
rejects at level ``α``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from diffsolvers.experiments.paired import format_paired, paired_differences

T_975_2 = 4.302652729911275  # Student t, 0.975 quantile, 2 degrees of freedom


def test_paired_differences_by_hand():
    values = {"ref": [0.90, 0.91, 0.92], "a": [0.91, 0.93, 0.95], "b": [0.90, 0.90, 0.93]}
    out = paired_differences(values, "ref")
    assert list(out) == ["a", "b"]
    a = out["a"]
    np.testing.assert_allclose(a["differences"], [0.01, 0.02, 0.03], atol=1e-12)
    assert a["mean"] == pytest.approx(0.02)
    assert a["sd"] == pytest.approx(0.01)
    half = T_975_2 * 0.01 / math.sqrt(3)
    assert (a["low"], a["high"]) == (pytest.approx(0.02 - half), pytest.approx(0.02 + half))
    assert (a["at_or_above"], a["seeds"]) == (3, 3)
    assert out["b"]["at_or_above"] == 2  # a tie counts as "at or above"
    assert out["b"]["mean"] == pytest.approx(0.0)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_the_interval_excludes_zero_exactly_when_the_paired_t_test_rejects(n, confidence):
    rng = np.random.default_rng(n * 100 + int(confidence * 100))
    for _ in range(40):
        ref = rng.normal(0.9, 0.01, n)
        other = ref + rng.normal(rng.choice([0.0, 0.01]), 0.01, n)
        d = paired_differences({"ref": ref, "other": other}, "ref", confidence)["other"]
        p = stats.ttest_rel(other, ref).pvalue
        excludes_zero = d["low"] > 0 or d["high"] < 0
        assert excludes_zero == (p < 1 - confidence)
        assert d["low"] <= d["mean"] <= d["high"]


def test_one_seed_has_no_interval():
    d = paired_differences({"ref": [0.5], "a": [0.7]}, "ref")["a"]
    assert d["mean"] == pytest.approx(0.2) and d["sd"] == 0.0
    assert d["low"] is None and d["high"] is None
    assert format_paired({"a": d}, {"a": d})[0][2] == "—"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="reference method 'nope' is not among"):
        paired_differences({"a": [1.0]}, "nope")
    with pytest.raises(ValueError, match="one value per seed"):
        paired_differences({"ref": [1.0, 2.0], "a": [1.0]}, "ref")
    with pytest.raises(ValueError, match="confidence"):
        paired_differences({"ref": [1.0], "a": [1.0]}, "ref", confidence=1.0)


def test_format_paired_rows_are_percentages():
    values = {"ref": [0.90, 0.91, 0.92], "a": [0.91, 0.93, 0.95]}
    regret = {"ref": [0.010, 0.011, 0.012], "a": [0.008, 0.009, 0.010]}
    row = format_paired(paired_differences(values, "ref"), paired_differences(regret, "ref"))[0]
    assert row[0] == "a"
    assert row[1] == "+2.0 ± 1.0"
    half = 100 * T_975_2 * 0.01 / math.sqrt(3)
    assert row[2] == f"[{2 - half:+.1f}, {2 + half:+.1f}]"
    assert row[3] == "3 of 3"
    assert row[4] == "-0.20 ± 0.00"

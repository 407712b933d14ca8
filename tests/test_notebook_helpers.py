"""The notebooks' helpers that shape what a project reports: the bootstrap interval of a test
score, and text written from the data (a value from the data never becomes markup)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from site_builder import notebook as pf


def test_bootstrap_interval_of_accuracy_matches_the_binomial_spread():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 400)
    y_pred = np.where(rng.random(400) < 0.9, y_true, 1 - y_true)
    interval = pf.bootstrap(accuracy_score, y_true, y_pred, n=2000, seed=1)
    accuracy = accuracy_score(y_true, y_pred)
    half = 1.96 * np.sqrt(accuracy * (1 - accuracy) / 400)
    assert interval.low < accuracy < interval.high
    assert interval.low == pytest.approx(accuracy - half, abs=0.01)
    assert interval.high == pytest.approx(accuracy + half, abs=0.01)
    assert (interval.level, interval.n, interval.method) == (0.95, 2000, "bootstrap")
    assert interval == pf.bootstrap(accuracy_score, y_true, y_pred, n=2000, seed=1)


def test_moving_block_bootstrap_is_wider_on_correlated_errors():
    rng = np.random.default_rng(0)
    errors = np.cumsum(rng.normal(0, 1, 300)) * 0.2  # errors that wander: correlated in time
    y_true = np.zeros(300)
    rmse = lambda a, b: float(np.sqrt(np.mean((a - b) ** 2)))  # noqa: E731
    rows = pf.bootstrap(rmse, y_true, errors, seed=3)
    blocks = pf.bootstrap(rmse, y_true, errors, block=20, seed=3)
    assert blocks.method == "moving-block bootstrap (blocks of 20)"
    assert blocks.high - blocks.low > 1.5 * (rows.high - rows.low)


def test_bootstrap_draws_again_where_the_metric_is_undefined():
    y_true = np.array([0] * 38 + [1] * 2)
    scores = np.linspace(0, 1, 40)
    interval = pf.bootstrap(roc_auc_score, y_true, scores, n=200, seed=0)
    assert interval.n == 200 and 0 <= interval.low <= interval.high <= 1


def test_markdown_fills_values_from_the_data_as_plain_text():
    text = pf.markdown("The target is **{target}**, {rows} rows, {share}.",
                       target="<img src=x onerror=alert(1)>*[a](javascript:x)*", rows=569,
                       share=0.627416)
    assert text == ("The target is **&lt;img src=x onerror=alert(1)&gt;&#42;&#91;a&#93;"
                    "(javascript:x)&#42;**, 569 rows, 0.6274.")

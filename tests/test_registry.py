"""The benchmark registry: a source on every entry, and the computed numbers reproduced."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, cross_validate

from site_builder import keras_data
from site_builder.registry import reference, registry
from site_builder.scaffold import problem_types


def test_every_builtin_dataset_of_the_template_has_an_entry():
    entries = registry()
    for kind, spec in problem_types().items():
        entry = entries[spec["builtin"]]
        assert entry["task"] == kind
        assert entry["metric"] == {"name": spec["metric"], "direction": spec["direction"]}


@pytest.mark.parametrize("name", sorted(keras_data.DATASETS))
def test_every_keras_dataset_has_an_image_entry_with_the_official_split(name):
    entry = registry()[name]
    assert entry["task"] == "image-classification"
    assert entry["loader"] == f"keras.datasets.{name}"
    assert entry["metric"] == {"name": "accuracy", "direction": "maximize"}
    assert entry["split"]["train"] + entry["split"]["test"] == entry["rows"]
    assert entry["split"]["test"] == 10000


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_entry_has_a_data_card(name):
    card = registry()[name]["card"]
    assert card["source"].startswith("https://")
    assert card["licence"].strip() and card["citation"].strip()


@pytest.mark.parametrize("name", sorted(n for n, e in registry().items() if "best" in e))
def test_best_published_result_is_sourced_and_beyond_the_reference(name):
    entry = registry()[name]
    best, ref = entry["best"], entry["references"][0]
    assert set(best) == {"model", "value", "protocol", "source", "url"}
    assert best["url"].startswith("https://") and best["source"].strip()
    assert best["protocol"].strip() and best["model"].strip()
    sign = 1 if entry["metric"]["direction"] == "maximize" else -1
    assert sign * entry["baseline"]["value"] < sign * ref["value"] < sign * best["value"]
    if entry["metric"]["name"] == "accuracy":
        assert best["value"] <= 1.0


def test_the_builtin_datasets_best_published_rungs_are_sourced_or_said_to_be_missing():
    """A rung is there only where a published figure with its protocol was found; the others
    say in the registry why they have none (no number is made up)."""
    from site_builder.registry import REGISTRY_FILE

    assert registry()["breast_cancer"]["best"]["url"] == "https://arxiv.org/abs/1711.07831"
    text = REGISTRY_FILE.read_text(encoding="utf-8")
    blocks = dict(zip(*[iter(re.split(r"^  (\w+):\n", text, flags=re.M)[1:])] * 2, strict=True))
    for name in ("diabetes", "digits", "sunspots"):
        assert "best" not in registry()[name]
        assert "# No best published result: " in blocks[name]


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_entry_names_its_source_and_protocol(name):
    entry = registry()[name]
    for part in [entry["baseline"], *entry["references"]]:
        assert part["source"].strip() and part["protocol"].strip()
        assert isinstance(part["value"], float)
    assert entry["references"] and entry["references"][0]["metric"] == entry["metric"]["name"]
    assert all(r["url"].startswith("https://") for r in entry["references"])
    assert entry["baseline"]["strategy"].strip()


def test_reference_lookup():
    assert reference("breast_cancer", "builtin", "accuracy")["value"] == 0.975
    assert reference("mnist", "builtin", "accuracy")["value"] == 0.9905
    assert reference("diabetes", "builtin", "r2")["value"] == 0.48
    assert reference("breast_cancer", "file", "accuracy") is None
    assert reference("digits", "builtin", "rmse") is None


def test_classification_baselines_are_majority_shares():
    from sklearn.datasets import load_breast_cancer, load_digits

    for name, loader in (("breast_cancer", load_breast_cancer), ("digits", load_digits)):
        y = loader().target
        share = np.bincount(y).max() / len(y)
        assert registry()[name]["baseline"]["value"] == pytest.approx(share, abs=5e-5)


@pytest.mark.parametrize("name", sorted(keras_data.DATASETS))
def test_keras_baselines_are_the_training_majority_scored_on_the_test_images(name):
    """Only where Keras' cache already holds the dataset: the tests never download."""
    if keras_data.missing(name):
        pytest.skip(f"{name} is not in Keras' cache ({keras_data.keras_home()})")
    (_, y_train), (_, y_test) = keras_data.load(name)
    majority = np.bincount(y_train).argmax()
    share = np.mean(y_test == majority)
    assert registry()[name]["baseline"]["value"] == pytest.approx(share, abs=5e-5)
    assert (len(y_train), len(y_test)) == tuple(registry()[name]["split"].values())


def test_diabetes_numbers():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    entry = registry()["diabetes"]
    assert entry["baseline"]["value"] == pytest.approx(y.std(), abs=0.05)
    scores = cross_validate(LinearRegression(), X, y, cv=KFold(10, shuffle=True, random_state=0),
                            scoring=("r2", "neg_root_mean_squared_error"))
    refs = {r["metric"]: r["value"] for r in entry["references"]}
    assert refs["r2"] == pytest.approx(scores["test_r2"].mean(), abs=0.005)
    assert refs["rmse"] == pytest.approx(-scores["test_neg_root_mean_squared_error"].mean(), abs=0.05)


def test_digits_reference():
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    score = cross_val_score(SVC(), X / 16, y, cv=StratifiedKFold(10, shuffle=True, random_state=0))
    assert registry()["digits"]["references"][0]["value"] == pytest.approx(score.mean(), abs=5e-4)


def test_sunspots_numbers():
    import statsmodels.api as sm

    y = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(float)
    n = int(len(y) * 0.8)
    persistence = np.sqrt(np.mean((y[n:] - y[n - 1:-1]) ** 2))
    lags = np.array([y[i - 9:i] for i in range(9, len(y))])
    target, index = y[9:], np.arange(9, len(y))
    model = LinearRegression().fit(lags[index < n], target[index < n])
    ar9 = np.sqrt(np.mean((model.predict(lags[index >= n]) - target[index >= n]) ** 2))
    entry = registry()["sunspots"]
    assert entry["baseline"]["value"] == pytest.approx(persistence, abs=0.05)
    assert entry["references"][0]["value"] == pytest.approx(ar9, abs=0.05)

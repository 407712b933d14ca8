"""Step 4's search on tiny data: successive halving over epochs hands out its budget round by
round, early stopping ends a fit on its validation part, and every fit says where it is."""

from __future__ import annotations

import numpy as np
import pytest

from site_builder import notebook as pf

keras = pytest.importorskip("keras")
scikeras = pytest.importorskip("scikeras.wrappers")


def build(meta, units=4, learning_rate=0.01):
    model = keras.Sequential([keras.Input(shape=(meta["n_features_in_"],)),
                              keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(meta["n_classes_"], activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


def tiny_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype("float32")
    return X, (X[:, 0] > 0).astype(int)


def test_halving_over_epochs_trains_the_best_third_three_times_longer(tmp_path, monkeypatch):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, StratifiedKFold

    log = tmp_path / "progress.txt"
    monkeypatch.setenv(pf.PROGRESS_ENV, str(log))
    X, y = tiny_data()
    search = HalvingRandomSearchCV(
        scikeras.KerasClassifier(model=build, verbose=0, random_state=0,
                                 callbacks=[pf.fit_progress("search")]),
        {"model__units": [2, 4, 8], "model__learning_rate": [0.001, 0.01, 0.1]},
        n_candidates=3, factor=3, resource="epochs", max_resources=3, min_resources="exhaust",
        cv=StratifiedKFold(n_splits=2, shuffle=True, random_state=0), scoring="accuracy",
        random_state=0, refit=False,
    ).fit(X, y)
    assert search.n_resources_ == [1, 3]
    assert search.n_candidates_ == [3, 1]
    assert list(search.cv_results_["n_resources"]) == [1, 1, 1, 3]
    assert search.best_params_["epochs"] == 3
    finalist = search.cv_results_["params"][3]
    first_round = search.cv_results_["mean_test_score"][:3]
    assert {k: v for k, v in finalist.items() if k != "epochs"} == \
        {k: v for k, v in search.cv_results_["params"][int(np.argmax(first_round))].items()
         if k != "epochs"}
    assert log.read_text().splitlines() == [
        *(f"search: fit {n}, epoch 1/1" for n in range(1, 7)),
        *(f"search: fit {n}, epoch {e}/3" for n in (7, 8) for e in (1, 2, 3)),
    ]


def test_early_stopping_keeps_the_best_epoch_of_the_validation_part(tmp_path, monkeypatch):
    log = tmp_path / "progress.txt"
    monkeypatch.setenv(pf.PROGRESS_ENV, str(log))
    X, y = tiny_data()
    keras.utils.set_random_seed(0)
    # A learning rate this large makes the validation loss climb after a few epochs.
    model = build({"n_features_in_": 2, "n_classes_": 2}, units=8, learning_rate=3.0)
    stop = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(X, y, epochs=50, validation_split=0.25, verbose=0,
                        callbacks=[stop, pf.fit_progress("final model", fits=1)])
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) == best + 3 < 50
    assert model.evaluate(X[30:], y[30:], verbose=0) == pytest.approx(losses[best], rel=1e-5)
    assert log.read_text().splitlines() == [f"final model: epoch {e}/50"
                                            for e in range(1, len(losses) + 1)]

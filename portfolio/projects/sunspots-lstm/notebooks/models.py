"""Lag windows, walk-forward folds and the Keras networks of this project (steps 2 to 5).

Keras is imported inside the network builders only, so that step 2 (which only makes the
lag windows) starts quickly.
"""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, clone
from sklearn.metrics import make_scorer, root_mean_squared_error


def make_windows(values, window):
    """Lag windows for one-step-ahead forecasting.

    Row i holds the `window` values before position `positions[i]` (oldest first) and
    `targets[i]` is the value at that position, so every input is actual past data.
    """
    values = np.asarray(values, dtype="float32")
    positions = np.arange(window, len(values))
    inputs = np.stack([values[p - window : p] for p in positions])
    return inputs, values[positions], positions


def walk_forward_folds(positions, n_train, folds):
    """Expanding-window folds on the training part, fixed in time.

    The last half of the training part is cut into `folds` consecutive blocks; each fold
    trains on every window whose target comes before its block and validates on the block.
    Because the blocks are defined by position in the series, models with different window
    lengths are validated on exactly the same years.
    """
    block = n_train // (2 * folds)
    splits = []
    for k in range(folds):
        start = n_train - (folds - k) * block
        train = np.flatnonzero(positions < start)
        valid = np.flatnonzero((positions >= start) & (positions < start + block))
        splits.append((train, valid))
    return splits


def rmse_scorer(scaler):
    """RMSE in the series' own units (the models work on scaled values)."""

    def rmse(y_true, y_pred):
        back = lambda v: scaler.inverse_transform(np.reshape(v, (-1, 1))).ravel()  # noqa: E731
        return root_mean_squared_error(back(y_true), back(y_pred))

    return make_scorer(rmse, greater_is_better=False)


class Persistence(BaseEstimator, RegressorMixin):
    """The naive forecast: next value = the last value seen."""

    def fit(self, X, y):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        return np.asarray(X)[:, -1]


class LastLags(BaseEstimator, TransformerMixin):
    """Keep only the last `window` columns of the lag windows (to tune the window length)."""

    def __init__(self, window=9):
        self.window = window

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X)[:, -self.window :]


def build_mlp(meta, units=32, dropout=0.0, learning_rate=1e-3):
    """A multilayer perceptron that reads the lag window as a flat vector."""
    import keras

    model = keras.Sequential([keras.Input(shape=(meta["n_features_in_"],))])
    for _ in range(2):
        model.add(keras.layers.Dense(units, activation="relu"))
        if dropout:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model


def build_rnn(meta, cell="LSTM", units=32, dropout=0.0, learning_rate=1e-3):
    """A recurrent network that reads the lag window one step at a time.

    The input is the flat window (so scikit-learn can cross-validate it); the first layer
    turns it into a sequence of `window` steps with one value each.
    """
    import keras

    window = meta["n_features_in_"]
    layer = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[cell]
    model = keras.Sequential(
        [
            keras.Input(shape=(window,)),
            keras.layers.Reshape((window, 1)),
            layer(units, dropout=dropout),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model


class SeedEnsemble(BaseEstimator, RegressorMixin):
    """The average forecast of `members` copies of one estimator trained with different seeds.

    A small network's forecasts depend on its random initial weights; averaging a few
    copies cancels part of that noise.
    """

    def __init__(self, estimator=None, members=5, seed=0, seed_param="random_state"):
        self.estimator = estimator
        self.members = members
        self.seed = seed
        self.seed_param = seed_param

    def fit(self, X, y):
        self.estimators_ = [
            clone(self.estimator).set_params(**{self.seed_param: self.seed + i}).fit(X, y)
            for i in range(self.members)
        ]
        return self

    def predict(self, X):
        return np.mean([np.ravel(m.predict(X)) for m in self.estimators_], axis=0)

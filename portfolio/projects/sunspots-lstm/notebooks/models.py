"""The forecasters of this project (steps 2 to 5): a transform learned on the past, lag
windows, and a regressor that forecasts the next value from them.

Everything a forecaster learns (the transform's scaling, the model's weights) it learns in
`fit` from the values it is given, and `walk_forward` gives it only the values before each
fold: nothing from a validation block or the test part can reach a fitted parameter.
Keras is imported inside the network's code only, so the steps that train no network start
quickly.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.metrics import root_mean_squared_error

# The calendar season of a frequency (pandas' offset alias, without its anchor): the number
# of steps after which the calendar repeats.
SEASONS = {"h": 24, "H": 24, "D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12,
           "Q": 4, "QS": 4, "QE": 4, "BM": 12, "BMS": 12, "BQ": 4, "BQS": 4}


def season_length(frequency):
    """Steps per calendar season of a pandas frequency ('MS' -> 12), or None (yearly or
    irregular data has no calendar season)."""
    if not frequency:
        return None
    return SEASONS.get(frequency.split("-")[0].lstrip("0123456789"))


def lag_windows(values, window, positions):
    """The `window` values before each position (oldest first): the inputs of a forecast."""
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(values, "float32"), window)
    return windows[np.asarray(positions) - window]


def _difference_polynomial(lags):
    """Coefficients c of the differencing (1 - B^l1)(1 - B^l2)...: w_t = sum_k c_k z_(t-k)."""
    poly = np.array([1.0])
    for lag in lags:
        shifted = np.zeros(len(poly) + lag)
        shifted[lag:] = poly
        poly = np.pad(poly, (0, lag)) - shifted
    return poly


def choose_differencing(values, season=None):
    """The differencing a series needs, by the rules of Hyndman & Athanasopoulos (Forecasting:
    Principles and Practice, 3rd ed., section 9.1): a seasonal difference where the seasonal
    strength of an STL decomposition exceeds 0.64, then a first difference where the KPSS
    test rejects a stationary series at the 5 % level. Returns the lags and the statistics."""
    from statsmodels.tools.sm_exceptions import InterpolationWarning
    from statsmodels.tsa.seasonal import STL
    from statsmodels.tsa.stattools import kpss

    values = np.asarray(values, dtype="float64")
    lags, strength = [], None
    if season and len(values) > 2 * season:
        parts = STL(values, period=season, robust=True).fit()
        strength = max(0.0, 1 - np.var(parts.resid) / np.var(parts.seasonal + parts.resid))
        if strength > 0.64:
            lags.append(season)
            values = values[season:] - values[:-season]
    with warnings.catch_warnings():
        # kpss warns where its statistic lies beyond its table of p-values (the decision here
        # compares the statistic with the 5 % critical value and needs no p-value), and, in
        # newer statsmodels, that it will return an object instead of the tuple read here.
        warnings.simplefilter("ignore", InterpolationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        statistic, _, _, critical = kpss(values, regression="c", nlags="auto")
    if statistic > critical["5%"]:
        lags.insert(0, 1)
    return tuple(lags), {"seasonal strength": strength, "kpss": float(statistic),
                         "kpss 5 % critical": float(critical["5%"])}


class SeriesTransform(BaseEstimator):
    """Make a series easier to forecast, with parameters learned from the past only.

    1. `power`: "sqrt" or "log" where the spread of the series grows with its level
       (count data, growth), else "none";
    2. `lags`: differencing, () for none, (1,) for the change from the last step, (12,)
       for the change from the same month a year before, (1, 12) for both: it removes a
       trend or a season that a model would otherwise have to extrapolate;
    3. standardising with the mean and standard deviation of the values it is fitted on.

    `n_fitted_` records how many values (the first ones of the series) it was fitted on.
    """

    def __init__(self, power="none", lags=()):
        self.power = power
        self.lags = lags

    @property
    def order(self):
        """The number of earlier values the differencing needs."""
        return int(sum(self.lags))

    def powered(self, values):
        """The values after the power transform (the first step)."""
        values = np.asarray(values, dtype="float64")
        if self.power == "sqrt":
            return np.sqrt(np.maximum(values, 0.0))
        if self.power == "log":
            return np.log(values)
        return values

    def _unpower(self, values):
        if self.power == "sqrt":
            return np.maximum(values, 0.0) ** 2
        if self.power == "log":
            return np.exp(values)
        return values

    def _difference(self, values):
        """The differenced powered series (NaN where the differencing needs earlier values)."""
        z = self.powered(values)
        out = np.convolve(z, _difference_polynomial(self.lags))[: len(z)]
        out[: self.order] = np.nan
        return out

    def fit(self, values):
        w = self._difference(values)[self.order :]
        self.mean_ = float(np.mean(w))
        self.scale_ = float(np.std(w)) or 1.0
        self.n_fitted_ = len(values)
        return self

    def transform(self, values):
        """The scaled, differenced series (the first `order` values are NaN)."""
        return (self._difference(values) - self.mean_) / self.scale_

    def inverse(self, scaled, values, positions):
        """Forecasts in the series' units from forecasts of the transformed series at
        `positions`, using only the actual values before each position."""
        z = self.powered(values)
        # What the differencing adds back: a sum of earlier values only (w_t = z_t - past_t).
        poly = _difference_polynomial(self.lags)
        past = -np.convolve(z, np.r_[0.0, poly[1:]])[: len(z)]
        w = np.ravel(scaled) * self.scale_ + self.mean_
        return self._unpower(w + past[np.asarray(positions)])

    def as_dict(self):
        """What the transform learned, for model.json."""
        return {"power": self.power, "lags": list(self.lags), "mean": self.mean_,
                "scale": self.scale_, "fitted_on_values": self.n_fitted_}

    @classmethod
    def from_dict(cls, saved):
        """The fitted transform back from `as_dict`."""
        transform = cls(saved["power"], tuple(saved["lags"]))
        transform.mean_, transform.scale_ = saved["mean"], saved["scale"]
        transform.n_fitted_ = saved["fitted_on_values"]
        return transform


class Forecaster(BaseEstimator):
    """A one-step-ahead forecaster: `transform`, lag windows of `window` values, `model`.

    `fit(values)` learns everything from `values` (the past); `predict(values, positions)`
    forecasts the value at each position from the actual values before it.
    """

    def __init__(self, model=None, window=9, power="none", lags=()):
        self.model = model
        self.window = window
        self.power = power
        self.lags = lags

    def fit(self, values):
        values = np.asarray(values, dtype="float64")
        self.transform_ = SeriesTransform(self.power, self.lags).fit(values)
        w = self.transform_.transform(values)
        positions = np.arange(self.transform_.order + self.window, len(values))
        self.model_ = clone(self.model).fit(lag_windows(w, self.window, positions), w[positions])
        return self

    def predict(self, values, positions):
        w = self.transform_.transform(values)
        scaled = self.model_.predict(lag_windows(w, self.window, positions))
        return self.transform_.inverse(scaled, values, positions)


class Naive(BaseEstimator):
    """The naive forecasts: the value `lag` steps before (1: persistence; the season length:
    seasonal naive). Nothing to learn."""

    def __init__(self, lag=1):
        self.lag = lag

    def fit(self, values):
        return self

    def predict(self, values, positions):
        return np.asarray(values, dtype="float64")[np.asarray(positions) - self.lag]


def walk_forward_folds(n_train, folds, first=None):
    """Expanding-window folds on the training part: `folds` consecutive blocks of its last
    half (or from position `first` on). Each fold trains on every value before its block and
    is scored on the block. Returns (start, end) positions."""
    first = n_train // 2 if first is None else first
    block = (n_train - first) // folds
    starts = n_train - block * np.arange(folds, 0, -1)
    return [(int(s), int(s + block)) for s in starts]


def walk_forward(forecaster, values, folds, progress=None):
    """Scores a forecaster fold by fold: fitted on the values before each block (never on
    the block), it forecasts the block one step at a time. Returns a table with one row per
    fold (RMSE, how many values the fit saw) and the forecasts of every validated position.
    `progress`, where given, is told the fold (text)."""
    values = np.asarray(values, dtype="float64")
    rows, forecasts = [], {}
    for k, (start, end) in enumerate(folds, start=1):
        if progress:
            progress(f"fold {k}/{len(folds)}")
        fitted = clone(forecaster).fit(values[:start])
        positions = np.arange(start, end)
        forecast = fitted.predict(values[:end], positions)
        forecasts.update(zip(positions.tolist(), forecast.tolist()))
        fitted_on = getattr(getattr(fitted, "transform_", None), "n_fitted_", start)
        rows.append({"fold": k, "fitted on values": fitted_on, "first validated": start,
                     "validated": end - start,
                     "rmse": root_mean_squared_error(values[positions], forecast)})
    return pd.DataFrame(rows).set_index("fold"), pd.Series(forecasts, name="forecast")


def build_rnn(window, cell="LSTM", units=32, layers=1, dropout=0.0, learning_rate=5e-3):
    """A recurrent network that reads the lag window one step at a time.

    The input is the flat window (as for the other models); the first layer turns it into a
    sequence of `window` steps with one value each. The batches are tiny, so several run per
    call into the backend (`steps_per_execution`): most of a step's time would otherwise be
    Python's.
    """
    import keras

    layer = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[cell]
    model = keras.Sequential([keras.Input(shape=(window,)), keras.layers.Reshape((window, 1))])
    for i in range(layers):
        model.add(layer(units, dropout=dropout, return_sequences=i < layers - 1))
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse",
                  steps_per_execution=8)
    return model


# The compiled networks, one per shape and setting, with their initial weights and optimizer
# state (see RecurrentRegressor).
_NETWORKS = {}


class RecurrentRegressor(BaseEstimator, RegressorMixin):
    """The recurrent network as a scikit-learn regressor on lag windows, with early stopping.

    It trains on the first `1 - validation_fraction` of the windows it is given and stops
    when the error on the last ones (the most recent: a forecast is always validated on a
    later time) has not improved for `patience` passes, keeping the best weights; `epochs`
    is a maximum. `epochs_` is the number of passes it kept.

    Two costs of Keras that are fixed, not learning, are kept low: each Keras epoch goes over
    the windows `passes_per_epoch` times (an epoch has a fixed cost of its own: a new pass of
    the data pipeline and the validation), and the folds of one setting reuse one compiled
    network, reset to the same initial weights, instead of building and tracing it again.
    """

    def __init__(self, cell="LSTM", units=32, layers=1, dropout=0.0, learning_rate=5e-3,
                 epochs=200, patience=20, batch_size=64, validation_fraction=0.2,
                 passes_per_epoch=5, random_state=0, progress=None):
        self.cell = cell
        self.units = units
        self.layers = layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.passes_per_epoch = passes_per_epoch
        self.random_state = random_state
        self.progress = progress

    def _network(self, window):
        import keras

        key = (window, self.cell, self.units, self.layers, self.dropout, self.learning_rate,
               self.random_state)
        if key not in _NETWORKS:
            keras.utils.set_random_seed(self.random_state)
            network = build_rnn(window, self.cell, self.units, self.layers, self.dropout,
                                self.learning_rate)
            network.optimizer.build(network.trainable_variables)
            _NETWORKS[key] = (network, network.get_weights(),
                              [v.numpy() for v in network.optimizer.variables])
        network, weights, state = _NETWORKS[key]
        network.set_weights(weights)
        for variable, value in zip(network.optimizer.variables, state):
            variable.assign(value)
        return network

    def fit(self, X, y):
        import keras

        X, y = np.asarray(X, "float32"), np.asarray(y, "float32")
        network = self._network(X.shape[1])
        keras.utils.set_random_seed(self.random_state)
        cut = len(X) - max(1, int(len(X) * self.validation_fraction))
        passes = self.passes_per_epoch
        stop = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=max(1, -(-self.patience // passes)),
            restore_best_weights=True)
        history = network.fit(
            np.tile(X[:cut], (passes, 1)), np.tile(y[:cut], passes), batch_size=self.batch_size,
            epochs=max(1, self.epochs // passes), verbose=0,
            callbacks=[_ValidationLoss(X[cut:], y[cut:]), stop,
                       _Progress(self.progress, passes, self.epochs)])
        self.history_ = {key: [float(v) for v in losses] for key, losses in history.history.items()}
        self.epochs_ = (int(np.argmin(self.history_["val_loss"])) + 1) * passes
        self.weights_ = network.get_weights()
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        network = self.network()
        return np.ravel(network.predict_on_batch(np.asarray(X, "float32")))

    def network(self):
        """The fitted Keras network (the folds share one; this sets its weights to ours)."""
        network = self._network(self.n_features_in_)
        network.set_weights(self.weights_)
        return network


def _ValidationLoss(X, y):
    """The validation loss at the end of each epoch, for early stopping: one prediction on
    the validation windows (Keras' own validation pass costs more on data this small)."""
    import keras

    class ValidationLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            predicted = np.ravel(self.model.predict_on_batch(X))
            logs["val_loss"] = float(np.mean((predicted - y) ** 2))

    return ValidationLoss()


def _Progress(report, passes, epochs):
    """Reports the pass reached to `report` (a function of a text) after each epoch."""
    import keras

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if report:
                report(f"pass {(epoch + 1) * passes}/{epochs}")

    return Progress()

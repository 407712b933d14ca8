"""The Keras network of this project as a scikit-learn regressor, shared by steps 3 to 5.

`MLPRegressor` goes into a scikit-learn Pipeline after the preprocessing, so that
cross-validation fits the preprocessing and the network on each fold's training rows alone.
"""

import keras
import numpy as np
import tensorflow as tf  # tf.data: the rows as a stream of shuffled batches
from sklearn.base import BaseEstimator, RegressorMixin, clone

# The untuned network of step 3: common starting values for a small MLP. Step 4 searches
# around them and keeps what it finds only where it cross-validates better.
DEFAULTS = {
    "hidden_layers": 2,
    "units": 32,
    "dropout": 0.1,
    "l2": 0.0,
    "learning_rate": 1e-3,
    "batch_size": 32,
}


def build_mlp(n_inputs, hidden_layers=2, units=32, dropout=0.1, l2=0.0, learning_rate=1e-3,
              steps_per_execution=1):
    """A multilayer perceptron for regression: `hidden_layers` ReLU layers of `units` each,
    dropout after each, an L2 penalty of `l2` on the weights, and one linear output, trained
    with Adam on the mean squared error. Keras runs `steps_per_execution` batches per call:
    on a few hundred rows, a whole epoch in one call saves most of the time per batch."""
    penalty = keras.regularizers.L2(l2) if l2 else None
    model = keras.Sequential([keras.Input(shape=(n_inputs,))])
    for _ in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation="relu", kernel_regularizer=penalty))
        if dropout:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(1, kernel_regularizer=penalty))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="mean_squared_error", steps_per_execution=steps_per_execution)
    return model


# Building and compiling a network, and Keras tracing its training step on the first fit,
# cost about a second: far more than training on a few hundred rows. So each shape of
# network is built once, and every fit (each fold, each candidate) starts it from the same
# initial weights and a fresh optimizer state.
_built: dict = {}


def _network(n_inputs, hidden_layers, units, dropout, l2, seed, steps):
    key = (n_inputs, hidden_layers, units, dropout, l2, seed, steps)
    if key not in _built:
        keras.utils.set_random_seed(seed)
        # A whole epoch per call (PyTorch's backend runs one batch per call).
        per_call = 1 if keras.backend.backend() == "torch" else steps
        model = build_mlp(n_inputs, hidden_layers, units, dropout, l2, steps_per_execution=per_call)
        model.optimizer.build(model.trainable_variables)
        _built[key] = (model, [v.numpy() for v in model.variables],
                       [v.numpy() for v in model.optimizer.variables])
    return _built[key]


class HeldOutLoss(keras.callbacks.Callback):
    """The mean squared error on the held-out rows after each epoch, as `val_loss` for early
    stopping: one prediction on a few dozen rows, much cheaper than Keras' own evaluation."""

    def __init__(self, X, y):
        super().__init__()
        self.X, self.y = X, y

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = float(np.mean((self.model.predict_on_batch(self.X) - self.y) ** 2))


class MLPRegressor(RegressorMixin, BaseEstimator):
    """The network of `build_mlp` as a scikit-learn regressor.

    Each fit holds out a random `validation_share` of the rows it is given (in
    cross-validation, a slice of the fold's training rows, never the fold's validation rows)
    and stops when the loss on that slice has not improved for `patience` epochs, keeping
    the weights of its best epoch: `epochs` is a maximum, not a fixed cost.
    """

    def __init__(self, hidden_layers=2, units=32, dropout=0.1, l2=0.0, learning_rate=1e-3,
                 batch_size=32, epochs=300, patience=20, validation_share=0.2, seed=0,
                 callbacks=()):
        self.hidden_layers = hidden_layers
        self.units = units
        self.dropout = dropout
        self.l2 = l2
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.validation_share = validation_share
        self.seed = seed
        self.callbacks = callbacks

    def _built_network(self):
        return _network(self.n_features_in_, self.hidden_layers, self.units, self.dropout,
                        self.l2, self.seed, self.steps_)

    def fit(self, X, y):
        X, y = np.asarray(X, "float32"), np.asarray(y, "float32").reshape(-1, 1)
        rows = np.random.default_rng(self.seed).permutation(len(X))
        n_valid = max(1, round(self.validation_share * len(X)))
        valid, train = rows[:n_valid], rows[n_valid:]
        self.n_features_in_ = X.shape[1]
        self.steps_ = -(-len(train) // self.batch_size)  # batches per epoch
        model, weights, optimizer_state = self._built_network()
        for variable, value in zip(model.variables, weights, strict=True):
            variable.assign(value)
        for variable, value in zip(model.optimizer.variables, optimizer_state, strict=True):
            variable.assign(value)
        model.optimizer.learning_rate.assign(self.learning_rate)
        keras.utils.set_random_seed(self.seed)

        # A repeated stream, reshuffled each pass: Keras then keeps one iterator for the
        # whole fit instead of making a new one every epoch.
        batches = (tf.data.Dataset.from_tensor_slices((X[train], y[train]))
                   .shuffle(len(train), seed=self.seed).batch(self.batch_size).repeat())
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                             restore_best_weights=True)
        history = model.fit(batches, steps_per_epoch=self.steps_, epochs=self.epochs,
                            callbacks=[HeldOutLoss(X[valid], y[valid]), stop, *self.callbacks],
                            shuffle=False, verbose=0)
        self.history_ = history.history
        self.best_epoch_ = int(np.argmin(self.history_["val_loss"])) + 1
        self.weights_ = [v.numpy() for v in model.variables]
        return self

    def predict(self, X):
        model = self._built_network()[0]
        for variable, value in zip(model.variables, self.weights_, strict=True):
            variable.assign(value)
        X = np.asarray(X, "float32")
        return np.concatenate([model.predict_on_batch(X[i:i + 4096]).ravel()
                               for i in range(0, len(X), 4096)]).astype(float)

    def keras_model(self, target_mean=0.0, target_std=1.0):
        """The fitted network as a Keras model of its own, its output mapped back to the
        target's units (`target_mean`, `target_std`: the scaling the network learnt in)."""
        model = build_mlp(self.n_features_in_, self.hidden_layers, self.units, self.dropout,
                          self.l2, self.learning_rate)
        for variable, value in zip(model.variables, self.weights_, strict=True):
            variable.assign(value)
        return keras.Sequential([
            keras.Input(shape=(self.n_features_in_,)), model,
            keras.layers.Rescaling(scale=float(target_std), offset=float(target_mean)),
        ])


def fold_predictions(model, X, y, fit_rows, predict_rows):
    """One fold of cross-validation: `model` (a pipeline, cloned) fitted on the rows
    `fit_rows`, and its predictions for the rows `predict_rows`, which it never saw; a
    function, for `pf.in_parallel` to run in another process."""
    return clone(model).fit(X.iloc[fit_rows], y[fit_rows]).predict(X.iloc[predict_rows])

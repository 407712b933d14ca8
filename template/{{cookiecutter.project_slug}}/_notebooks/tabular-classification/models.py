"""The Keras network of this project as a scikit-learn classifier, shared by steps 3 to 5.

`MLPClassifier` goes into a scikit-learn `Pipeline` after the preprocessing, so that
cross-validation fits both on each fold's training rows only.
"""

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split


def build_mlp(n_features, n_classes, hidden_layers=2, units=32, dropout=0.2, l2=0.0):
    """A multilayer perceptron: `hidden_layers` ReLU layers of `units` units, each followed
    by dropout, and a softmax over the classes; L2 weight decay where `l2` > 0."""
    regulariser = keras.regularizers.L2(l2) if l2 else None
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for _ in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation="relu", kernel_regularizer=regulariser))
        if dropout:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        # Several batches per call into the backend: on a few hundred rows the per-batch
        # Python overhead costs more than the arithmetic. (Keras' PyTorch backend takes one.)
        steps_per_execution=1 if keras.backend.backend() == "torch" else 16,
    )
    return model


# Keras traces a network's training step into a graph the first time it trains: about a
# second, more than the training itself on a few hundred rows. Cross-validation and the
# search train networks of the same shape again and again, so one compiled network is kept
# per shape, and each fit copies into it the initial state of a newly built one (weights
# and dropout's random state) and resets its optimizer: a new network, without the tracing.
_compiled = {}


def _new_network(n_features, n_classes, seed, learning_rate, **shape):
    keras.utils.set_random_seed(seed)
    new = build_mlp(n_features, n_classes, **shape)
    key = (n_features, n_classes, *sorted(shape.items()))
    model = _compiled.setdefault(key, new)
    if model is not new:
        for variable, value in zip(model.variables, new.variables, strict=True):
            variable.assign(value)
        for variable in model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
    model.optimizer.learning_rate = learning_rate
    return model


def _training_data(X_fit, y_fit, X_stop, y_stop, batch_size, seed):
    """`fit`'s data: under TensorFlow plain tf.data pipelines (Keras' own wrapping of NumPy
    arrays costs about a tenth of a second per epoch there), NumPy arrays elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return {"x": X_fit, "y": y_fit, "batch_size": batch_size,
                "validation_data": (X_stop, y_stop)}
    import tensorflow as tf

    rows = tf.data.Dataset.from_tensor_slices((X_fit, y_fit)).shuffle(len(X_fit), seed=seed)
    stop = tf.data.Dataset.from_tensor_slices((X_stop, y_stop)).batch(len(X_stop))
    return {"x": rows.batch(batch_size), "validation_data": stop, "shuffle": False}


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """The Keras MLP as a scikit-learn classifier (any labels: numbers or text).

    `fit` holds out a stratified `validation_fraction` of the rows it is given and stops
    when the loss on them has not improved for `patience` epochs, keeping the best epoch's
    weights: `max_epochs` is a ceiling, not a cost. The fraction is a tenth: on a few hundred
    rows every row held out is one the network does not learn from. With `n_networks` > 1 it is an ensemble:
    that many networks, each from its own seed (initial weights, dropout, order of the
    batches, early-stopping slice), whose predicted probabilities are averaged.
    """

    def __init__(self, hidden_layers=2, units=32, dropout=0.2, l2=0.0, learning_rate=1e-3,
                 batch_size=32, n_networks=1, max_epochs=200, patience=10,
                 validation_fraction=0.1, random_state=0, callbacks=()):
        self.hidden_layers = hidden_layers
        self.units = units
        self.dropout = dropout
        self.l2 = l2
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_networks = n_networks
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.callbacks = callbacks

    def _shape(self):
        return {"hidden_layers": self.hidden_layers, "units": self.units,
                "dropout": self.dropout, "l2": self.l2}

    def fit(self, X, y):
        X = np.asarray(X, dtype="float32")
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.n_features_in_ = X.shape[1]
        self.weights_, self.history_, self.best_epochs_ = [], [], []
        # At least a row of each class, which a stratified split needs on small data.
        n_stop = max(int(np.ceil(self.validation_fraction * len(codes))), len(self.classes_))
        for seed in range(self.random_state, self.random_state + self.n_networks):
            X_fit, X_stop, y_fit, y_stop = train_test_split(
                X, codes, test_size=n_stop, stratify=codes, random_state=seed
            )
            model = _new_network(X.shape[1], len(self.classes_), seed, self.learning_rate,
                                 **self._shape())
            keras.utils.set_random_seed(seed)
            stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                                 restore_best_weights=True)
            history = model.fit(
                **_training_data(X_fit, y_fit, X_stop, y_stop, self.batch_size, seed),
                epochs=self.max_epochs, callbacks=[stop, *self.callbacks], verbose=0,
            ).history
            self.weights_.append(model.get_weights())
            self.history_.append(history)
            self.best_epochs_.append(int(np.argmin(history["val_loss"])) + 1)
        self.stopping_rows_ = len(X_stop)
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype="float32")
        key = (self.n_features_in_, len(self.classes_), *sorted(self._shape().items()))
        model = _compiled.get(key) or _new_network(*key[:2], 0, self.learning_rate,
                                                   **self._shape())
        total = 0.0
        for weights in self.weights_:
            model.set_weights(weights)
            total += np.concatenate([np.asarray(model.predict_on_batch(X[i:i + 4096]))
                                     for i in range(0, max(len(X), 1), 4096)])
        return total / len(self.weights_)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def network(self):
        """The fitted network as one Keras model, to save: an ensemble's networks side by
        side with the average of their outputs."""
        members = []
        for weights in self.weights_:
            # A copy without the optimizer: what predicting needs, and nothing else.
            member = keras.models.clone_model(
                build_mlp(self.n_features_in_, len(self.classes_), **self._shape()))
            member.set_weights(weights)
            members.append(member)
        if len(members) == 1:
            return members[0]
        inputs = keras.Input(shape=(self.n_features_in_,))
        return keras.Model(inputs, keras.layers.Average()([m(inputs) for m in members]))


def fold_score(model, X, y, fit_rows, score_rows, scoring):
    """One fold of cross-validation: `model` (a pipeline, cloned) fitted on the rows `fit_rows`
    and scored with `scoring` on the rows `score_rows`, which it never saw; a function, for
    `pf.in_parallel` to run in another process."""
    fitted = clone(model).fit(X.iloc[fit_rows], y.iloc[fit_rows])
    return get_scorer(scoring)(fitted, X.iloc[score_rows], y.iloc[score_rows])

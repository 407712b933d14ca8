"""The models of this project and how they are trained, shared by steps 3 to 5."""

import math

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

# Keras' PyTorch backend runs one training step per call; the others run 16, much faster for
# small images.
STEPS_PER_EXECUTION = 1 if keras.backend.backend() == "torch" else 16
PREDICT_BATCH_SIZE = 512


def flatten(images):
    """Each image as one row of pixel values, for the scikit-learn models."""
    return images.reshape(len(images), -1)


def build_network(shape, n_classes, blocks=2, convs_per_block=2, filters=32, dense=128,
                  dropout=0.3, name="cnn"):
    """The classifier: `blocks` blocks of `convs_per_block` 3 x 3 convolutions, with twice the
    filters in each block and a 2 x 2 max-pooling that halves the image at its end, then a
    dense layer with dropout and a softmax over the classes.

    Convolutions look at small patches of neighbouring pixels, and pooling makes what they
    find less sensitive to its exact position. Small final feature maps (4 x 4 or less) are
    flattened; larger ones are averaged over their positions, which keeps the dense layer
    small for large images.
    """
    layers = keras.layers
    network = keras.Sequential([keras.Input(shape=shape)], name=name)
    size = min(shape[:2])
    for block in range(blocks):
        for _ in range(convs_per_block):
            network.add(layers.Conv2D(filters * 2**block, 3, padding="same", activation="relu"))
        if size >= 2:
            network.add(layers.MaxPooling2D(2))
            size //= 2
    network.add(layers.Flatten() if size <= 4 else layers.GlobalAveragePooling2D())
    network.add(layers.Dense(dense, activation="relu"))
    if dropout:
        network.add(layers.Dropout(dropout))
    network.add(layers.Dense(n_classes, activation="softmax"))
    return network


def build_augmentation(shift=0.0, rotation=0.0, zoom=0.0, fill_mode="constant"):
    """Random shifts and zooms (fractions of the image size) and rotations (fractions of a full
    turn) of the training images, new at every epoch; Keras applies them in training only."""
    layers = keras.layers
    augmentation = []
    if rotation:
        augmentation.append(layers.RandomRotation(rotation, fill_mode=fill_mode))
    if shift:
        augmentation.append(layers.RandomTranslation(shift, shift, fill_mode=fill_mode))
    if zoom:
        augmentation.append(layers.RandomZoom(zoom, fill_mode=fill_mode))
    for layer in augmentation:
        # Keras marks these layers as not compilable, true of TensorFlow's image ops only:
        # under JAX the whole network would otherwise run uncompiled, about 50 times slower.
        layer.supports_jit = keras.backend.backend() == "jax"
    return augmentation


def build_trainer(shape, n_classes, shift=0.0, rotation=0.0, zoom=0.0, fill_mode="constant",
                  **architecture):
    """The network to train: the augmentation layers in front of `build_network`'s network,
    compiled with the Adam optimiser and the cross-entropy loss."""
    network = build_network(shape, n_classes, **architecture)
    trainer = keras.Sequential(
        [keras.Input(shape=shape), *build_augmentation(shift, rotation, zoom, fill_mode), network]
    )
    trainer.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION)
    return trainer


# Keras turns a network into a compiled graph the first time it trains or predicts, which takes
# longer than training on a few thousand small images. Cross-validation trains the same network
# once per fold, so the compiled network is kept here, per shape and settings, and each fit
# starts it again from fresh random weights.
_trainers = {}


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """The CNN as a scikit-learn classifier, cross-validated as any other model.

    `fit` trains with the Adam optimiser in batches of `batch_size` images, its learning rate
    decaying from `learning_rate` to zero along a half cosine over `epochs` (with a constant
    rate the weights keep jumping around at the end; a decaying one lets them settle). It sets
    a stratified `validation_fraction` of the images it is given aside, and stops when their
    loss has not improved for `patience` epochs, keeping the weights of the best epoch (early
    stopping): `epochs` is a maximum. The validation images are part of the images given to
    `fit`, never the images it is scored on. The same `seed` gives the same network and the
    same training.
    """

    def __init__(self, blocks=2, convs_per_block=2, filters=32, dense=128, dropout=0.3,
                 shift=0.0, rotation=0.0, zoom=0.0, fill_mode="constant", learning_rate=4e-3,
                 batch_size=128, epochs=20, patience=6, validation_fraction=0.1, seed=0,
                 callbacks=()):
        self.blocks = blocks
        self.convs_per_block = convs_per_block
        self.filters = filters
        self.dense = dense
        self.dropout = dropout
        self.shift = shift
        self.rotation = rotation
        self.zoom = zoom
        self.fill_mode = fill_mode
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.callbacks = callbacks

    def _settings(self):
        architecture = dict(blocks=self.blocks, convs_per_block=self.convs_per_block,
                            filters=self.filters, dense=self.dense, dropout=self.dropout)
        augmentation = dict(shift=self.shift, rotation=self.rotation, zoom=self.zoom,
                            fill_mode=self.fill_mode)
        return architecture, augmentation

    def _trainer(self, shape, n_classes):
        """The compiled network for these settings, with fresh weights and optimiser state."""
        architecture, augmentation = self._settings()
        key = (shape, n_classes, *architecture.items(), *augmentation.items())
        keras.utils.set_random_seed(self.seed)
        fresh = build_trainer(shape, n_classes, **augmentation, **architecture)
        trainer = _trainers.setdefault(key, fresh)
        if trainer is not fresh:
            for variable, value in zip(trainer.variables, fresh.variables):
                variable.assign(value)  # weights and the random state of dropout and augmentation
            for variable in trainer.optimizer.variables:
                variable.assign(np.zeros(variable.shape, variable.dtype))
        return trainer

    def fit(self, X, y):
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_validation = max(round(self.validation_fraction * len(codes)), len(self.classes_))
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, codes, test_size=n_validation, stratify=codes, random_state=self.seed
        )
        trainer = self._trainer(X.shape[1:], len(self.classes_))
        decay = keras.callbacks.LearningRateScheduler(
            lambda epoch: self.learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))
        )
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                             restore_best_weights=True)
        history = trainer.fit(
            X_fit, y_fit, validation_data=(X_val, y_val), epochs=self.epochs,
            batch_size=self.batch_size, callbacks=[decay, stop, *self.callbacks], verbose=0,
        )
        self.history_ = history.history
        self.best_epoch_ = stop.best_epoch + 1
        self.network_ = trainer.layers[-1]
        self.weights_ = self.network_.get_weights()
        return self

    def predict_proba(self, X):
        self.network_.set_weights(self.weights_)  # another fit may have trained it since
        return self.network_.predict(X, batch_size=PREDICT_BATCH_SIZE, verbose=0)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def export_network(self, name="cnn"):
        """A network of its own with the fitted weights, without the augmentation layers."""
        architecture, _ = self._settings()
        network = build_network(self.network_.input_shape[1:], len(self.classes_), **architecture,
                                name=name)
        network.set_weights(self.weights_)
        return network


def fold_probabilities(X, y, fit_rows, score_rows, settings, seed, callbacks=()):
    """One fold of cross-validation: a `CNNClassifier(**settings)` fitted on the rows
    `fit_rows`, and its class probabilities for the rows `score_rows`, which it never saw; a
    function, for `pf.in_parallel` to run in another process."""
    model = CNNClassifier(**settings, seed=seed, callbacks=callbacks)
    return model.fit(X[fit_rows], y[fit_rows]).predict_proba(X[score_rows])


def average_network(members):
    """One network for fitted `CNNClassifier`s: the class probabilities of each, averaged (an
    ensemble), without the augmentation layers."""
    if len(members) == 1:
        return members[0].export_network()
    networks = [member.export_network(f"cnn_{number}") for number, member in
                enumerate(members, start=1)]
    inputs = keras.Input(shape=networks[0].input_shape[1:])
    outputs = keras.layers.Average()([network(inputs) for network in networks])
    return keras.Model(inputs, outputs, name="ensemble")

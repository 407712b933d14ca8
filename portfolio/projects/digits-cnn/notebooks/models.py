"""The Keras networks of this project and how they are trained, shared by steps 3 to 5."""

import math

import keras
import numpy as np

# Training runs 16 batches per call into the backend, much faster for small images (Keras'
# PyTorch backend runs one at a time); prediction with several steps per call builds one copy
# of the network per step, which takes seconds, so the notebooks predict in a few large batches.
STEPS_PER_EXECUTION = 1 if keras.backend.backend() == "torch" else 16
PREDICT_BATCH_SIZE = 512


def build_cnn(
    meta,
    blocks=2,
    convs_per_block=2,
    filters=32,
    dense=128,
    dropout=0.3,
    learning_rate=2e-3,
    rotation=0.0,
    shift=0.0,
    zoom=0.0,
    fill_mode="constant",
):
    """A convolutional network for image classification.

    `meta` is filled in by scikeras with the shape of the data (the image shape and the
    number of classes), so the same function serves any dataset. The network is:

    - optional data augmentation: random rotations (a fraction of a full turn), shifts and
      zooms (fractions of the image size) of the training images, active only in training;
    - `blocks` blocks of `convs_per_block` 3 × 3 convolutions, with twice the filters in each
      block, each block ending in a 2 × 2 max-pooling that halves the image;
    - a dense layer with dropout, and a softmax over the classes.

    Small feature maps (4 × 4 or less, as with the 8 × 8 digits) are flattened; larger ones
    are averaged over their positions, which keeps the dense layer small for large images.
    """
    shape, n_classes = tuple(meta["X_shape_"][1:]), meta["n_classes_"]
    layers = keras.layers
    model = keras.Sequential([keras.Input(shape=shape)])
    augmentation = []
    if rotation:
        augmentation.append(layers.RandomRotation(rotation, fill_mode=fill_mode))
    if shift:
        augmentation.append(layers.RandomTranslation(shift, shift, fill_mode=fill_mode))
    if zoom:
        augmentation.append(layers.RandomZoom(zoom, fill_mode=fill_mode))
    for layer in augmentation:
        if keras.backend.backend() == "jax":
            # Keras marks these layers as not compilable, which holds for TensorFlow's image
            # ops only; under JAX the whole network would then run op by op, ~50x slower.
            layer.supports_jit = True
        model.add(layer)
    size = min(shape[:2])
    for block in range(blocks):
        for _ in range(convs_per_block):
            model.add(layers.Conv2D(filters * 2**block, 3, padding="same", activation="relu"))
        if size >= 2:
            model.add(layers.MaxPooling2D(2))
            size //= 2
    model.add(layers.Flatten() if size <= 4 else layers.GlobalAveragePooling2D())
    model.add(layers.Dense(dense, activation="relu"))
    if dropout:
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(n_classes, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


class CosineSchedule(keras.callbacks.Callback):
    """Lower the learning rate from its initial value towards zero along a half cosine.

    With a constant learning rate the weights keep jumping around at the end of training,
    and the score of the last epoch is partly luck; a decaying rate lets them settle.
    """

    def on_train_begin(self, logs=None):
        self.initial = float(np.array(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        progress = epoch / self.params["epochs"]
        self.model.optimizer.learning_rate = self.initial * 0.5 * (1 + math.cos(math.pi * progress))

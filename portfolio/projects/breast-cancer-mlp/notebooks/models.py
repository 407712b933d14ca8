"""The Keras network of this project, shared by steps 3 to 5."""

import keras


def build_mlp(meta, hidden_layers=2, units=32, dropout=0.2, learning_rate=1e-3):
    """A multilayer perceptron for tabular classification.

    `meta` is filled in by scikeras with the shape of the data (number of inputs and
    classes), so the same function serves any dataset.
    """
    n_features, n_classes = meta["n_features_in_"], meta["n_classes_"]
    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for _ in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation="relu"))
        if dropout:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model

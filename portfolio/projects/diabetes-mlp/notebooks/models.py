"""The Keras network of this project, shared by steps 3 to 5."""

import keras


def build_mlp(
    meta,
    hidden_layers=2,
    units=32,
    dropout=0.1,
    learning_rate=1e-3,
    target_mean=0.0,
    target_std=1.0,
):
    """A multilayer perceptron for tabular regression.

    `meta` is filled in by scikeras with the shape of the data (the number of inputs), so
    the same function serves any dataset. The network learns the target on a standardised
    scale, which suits its initial weights whatever the target's units; the last layer maps
    the prediction back (`target_mean` and `target_std` come from the training rows), so the
    model predicts, and the loss is measured, in the target's own units.
    """
    model = keras.Sequential([keras.Input(shape=(meta["n_features_in_"],))])
    for _ in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation="relu"))
        if dropout:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(1))
    model.add(keras.layers.Rescaling(scale=float(target_std), offset=float(target_mean)))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="mean_squared_error",
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
    )
    return model

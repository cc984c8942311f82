"""The features file of real FER2013 faces and the small networks of tests/models, for
the tests of training."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.conftest import (  # noqa: F401 (fixtures: pytest finds them by name)
    feature_set,
    features_file,
    features_model,
    train_set,
    val_set,
)


def pytest_collection_modifyitems(config, items):
    # Keras passes copy=False to numpy's __array__ of TF tensors: noise, not ours
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(
                pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
            )

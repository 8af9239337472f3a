"""The classifier: preprocessing (standardize numbers, one-hot categories) in the module, then an MLP.

The preprocessing lives in the module so that it is in the exported graph: serving feeds the row as it
encodes it (a category as its index) and nothing outside the artifact has to be kept in step with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from lambdaops_trainer.data import FeatureSpec, TableSchema
from lambdaops_trainer.hyperparameters import Hyperparameters

_CONSTANT = 1e-12
"""A numeric column whose train std is below this (relative to its mean) is constant: its std is 1."""


class Preprocessing(nn.Module):
    """`[batch, features]` as serving encodes it into the MLP's input: standardized numbers, then one-hot
    slots for each category feature (a cell matching no category, such as -1, sets none)."""

    numeric_columns: Tensor
    mean: Tensor
    std: Tensor
    category_columns: Tensor
    category_values: Tensor

    def __init__(self, features: Sequence[FeatureSpec], mean: Tensor, std: Tensor) -> None:
        super().__init__()
        numeric = [i for i, feature in enumerate(features) if feature.type != "category"]
        columns: list[int] = []
        values: list[float] = []
        for position, feature in enumerate(features):
            if feature.type == "category":
                columns += [position] * len(feature.categories)
                values += [float(index) for index in range(len(feature.categories))]
        self.register_buffer("numeric_columns", torch.tensor(numeric, dtype=torch.long))
        self.register_buffer("mean", mean.to(torch.float32))
        self.register_buffer("std", std.to(torch.float32))
        self.register_buffer("category_columns", torch.tensor(columns, dtype=torch.long))
        self.register_buffer("category_values", torch.tensor(values, dtype=torch.float32))
        self.has_numbers = bool(numeric)
        self.numeric_only = numeric == list(range(len(features)))
        self.has_categories = bool(columns)
        self.inputs = len(features)
        self.width = len(numeric) + len(columns)

    @classmethod
    def fitted(cls, features: Sequence[FeatureSpec], x: npt.NDArray[np.float32]) -> Preprocessing:
        """Standardization constants from the train rows (float64 sums; a constant column's std is 1)."""
        numeric = [i for i, feature in enumerate(features) if feature.type != "category"]
        values = x[:, numeric].astype(np.float64)
        mean = values.mean(axis=0) if len(values) else np.zeros(len(numeric))
        std = values.std(axis=0) if len(values) else np.ones(len(numeric))
        std[std <= _CONSTANT * np.maximum(1.0, np.abs(mean))] = 1.0
        return cls(features, torch.from_numpy(mean), torch.from_numpy(std))

    def forward(self, x: Tensor) -> Tensor:
        parts = []
        if self.has_numbers:
            numbers = x if self.numeric_only else x.index_select(1, self.numeric_columns)
            parts.append((numbers - self.mean) / self.std)
        if self.has_categories:
            parts.append((x.index_select(1, self.category_columns) == self.category_values).to(x.dtype))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def mlp(width: int, classes: int, hidden_units: int, hidden_layers: int, dropout: float) -> nn.Sequential:
    """`hidden_layers` x (Linear, ReLU, optional Dropout), then a Linear to the class logits."""
    layers: list[nn.Module] = []
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_units), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden_units
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


class TabularClassifier(nn.Module):
    """Encoded rows in, class logits out."""

    def __init__(self, preprocessing: Preprocessing, network: nn.Sequential) -> None:
        super().__init__()
        self.preprocessing = preprocessing
        self.network = network

    @classmethod
    def build(
        cls, schema: TableSchema, x_train: npt.NDArray[np.float32], hp: Hyperparameters
    ) -> TabularClassifier:
        """A fresh model for the schema; its weights come from torch's RNG, so seed it first."""
        preprocessing = Preprocessing.fitted(schema.features, x_train)
        network = mlp(preprocessing.width, len(schema.classes), hp.hidden_units, hp.hidden_layers, hp.dropout)
        return cls(preprocessing, network)

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self.network(self.preprocessing(x))
        return logits

"""The paper's SE-CNN (section 4.2): squeeze-and-excite over the input slices (r = 16) in front of the CNN."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cacscore.regress.models.cnn import CNN, CNNConfig
from cacscore.regress.models.layers import SqueezeExcite


@dataclass(frozen=True)
class SECNNConfig:
    in_channels: int = 73
    image_size: int = 512
    reduction: int = 16  # r: W1 is (C/r x C)
    widths: tuple[int, ...] = (32, 64, 128)
    hidden: int = 128
    n_outputs: int = 4


class SECNN(nn.Module):
    """(B, in_channels, H, W) -> SE slice weighting -> CNN -> (B, 4)."""

    Config = SECNNConfig
    # parameters with an axis over the input channels (name -> axis), for zero-padding them (fast_train)
    INPUT_CHANNEL_AXES = {"se.fc1.weight": 1, "se.fc2.weight": 0, "se.fc2.bias": 0, "cnn.features.0.0.weight": 1}

    def __init__(self, config: SECNNConfig = SECNNConfig()) -> None:
        super().__init__()
        self.config = config
        self.se = SqueezeExcite(config.in_channels, reduction=config.reduction)
        self.cnn = CNN(CNNConfig(in_channels=config.in_channels, image_size=config.image_size,
                                 widths=config.widths, hidden=config.hidden, n_outputs=config.n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.se(x)  # (B, C, H, W), each slice re-weighted by s_c
        return self.cnn(x)  # (B, 4)

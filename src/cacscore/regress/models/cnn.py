"""The paper's CNN (section 4.1): 3 x [Conv3x3-BN-ReLU-MaxPool2] with 32/64/128 filters, GAP, FC 128->128->4."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cacscore.regress.models.layers import ConvBlock


@dataclass(frozen=True)
class CNNConfig:
    in_channels: int = 73  # CT slices stacked as channels
    image_size: int = 512  # H = W (any size divisible by 8 works; the net is fully convolutional)
    widths: tuple[int, ...] = (32, 64, 128)
    hidden: int = 128
    n_outputs: int = 4  # LCA, LAD, LCX, RCA


class CNN(nn.Module):
    """(B, in_channels, H, W) normalised HU -> (B, 4) scaled vessel scores."""

    Config = CNNConfig
    # parameters with an axis over the input channels (name -> axis), for zero-padding them (fast_train)
    INPUT_CHANNEL_AXES = {"features.0.0.weight": 1}

    def __init__(self, config: CNNConfig = CNNConfig()) -> None:
        super().__init__()
        if config.image_size % (2 ** len(config.widths)):
            raise ValueError(f"image_size {config.image_size} must be divisible by {2 ** len(config.widths)}")
        self.config = config
        chans = (config.in_channels, *config.widths)
        self.features = nn.Sequential(*(ConvBlock(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.head = nn.Sequential(
            nn.Linear(config.widths[-1], config.hidden), nn.ReLU(inplace=True),
            nn.Linear(config.hidden, config.n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 128, H/8, W/8)
        x = x.mean(dim=(2, 3))  # global average pooling -> (B, 128)
        return self.head(x)  # (B, 4)

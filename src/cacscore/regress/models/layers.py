"""Building blocks shared by the regressors (paper section 4)."""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """Conv3x3 - BatchNorm - ReLU - MaxPool2: (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )


class SqueezeExcite(nn.Module):
    """Squeeze-and-excite over channels (Hu et al.; paper eq. 2).

    s_c = sigmoid(W2 relu(W1 g_c)), g_c = mean_{h,w} x_{c,h,w}; returns s_c * x. Shape preserved (B, C, H, W).
    With CT slices as channels, s_c is a learned per-slice weight.
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction}")
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)  # W1: C/r x C
        self.fc2 = nn.Linear(hidden, channels)  # W2: C x C/r

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel weights s, shape (B, C), in (0, 1)."""
        g = x.mean(dim=(2, 3))  # (B, C)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(g))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)[:, :, None, None]  # (B, C, H, W)

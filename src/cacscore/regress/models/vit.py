"""The paper's ViT (section 4.3): 32x32 patches by a stride-32 conv, class token, learned positions,
depth 3, 4 heads, feed-forward 512, MLP head. The embedding width is not given in the paper (128 here)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ViTConfig:
    in_channels: int = 73
    image_size: int = 512  # 512 / 32 -> 16 x 16 = 256 tokens
    patch_size: int = 32
    dim: int = 128  # embedding width (not stated in the paper)
    depth: int = 3
    heads: int = 4
    mlp_dim: int = 512  # feed-forward width
    dropout: float = 0.0
    n_outputs: int = 4


class ViT(nn.Module):
    """(B, in_channels, H, W) -> (B, 4)."""

    Config = ViTConfig
    # parameters with an axis over the input channels (name -> axis), for zero-padding them (fast_train)
    INPUT_CHANNEL_AXES = {"patch.weight": 1}

    def __init__(self, config: ViTConfig = ViTConfig()) -> None:
        super().__init__()
        if config.image_size % config.patch_size:
            raise ValueError(f"image_size {config.image_size} is not divisible by patch_size {config.patch_size}")
        if config.dim % config.heads:
            raise ValueError(f"dim {config.dim} is not divisible by heads {config.heads}")
        self.config = config
        n_tokens = (config.image_size // config.patch_size) ** 2
        self.patch = nn.Conv2d(config.in_channels, config.dim, kernel_size=config.patch_size, stride=config.patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.pos = nn.Parameter(torch.randn(1, n_tokens + 1, config.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(config.dim, config.heads, config.mlp_dim, dropout=config.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(config.dim), nn.Linear(config.dim, config.dim), nn.GELU(),
                                  nn.Linear(config.dim, config.n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x)  # (B, dim, H/32, W/32)
        x = x.flatten(2).transpose(1, 2)  # (B, P, dim)
        if x.shape[1] + 1 != self.pos.shape[1]:
            raise ValueError(f"input gives {x.shape[1]} patches, model expects {self.pos.shape[1] - 1} "
                             f"(image_size {self.config.image_size})")
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos  # (B, P+1, dim)
        x = self.encoder(x)  # (B, P+1, dim)
        return self.head(x[:, 0])  # class token -> (B, 4)

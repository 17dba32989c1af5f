"""The network: a compact U-Net that corrects the warped face toward the real one (torch).

Imported only when the learned renderer is used or trained, so the base install needs no torch.
It predicts a residual over the warped crop (out = warped + residual): at the start of training
it already renders the plain warp, and it only has to learn what the warp gets wrong (teeth,
folds, shading, eye lids).
"""

from __future__ import annotations

from typing import Any

from ...errors import InputError

TORCH_HINT = (
    "the learned renderer needs PyTorch: run `make setup` (it installs the CPU build "
    "torch==2.13.0+cpu), or `pip install torch==2.13.0 --index-url "
    "https://download.pytorch.org/whl/cpu`."
)


def import_torch() -> Any:
    """The torch module, or one clear error saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise InputError(TORCH_HINT) from exc
    return torch


def build_net(width: int, in_channels: int, out_channels: int) -> Any:
    """A U-Net with three 2x downsamplings; `width` channels at full resolution."""
    torch = import_torch()
    nn = torch.nn

    def block(a: int, b: int, stride: int = 1) -> Any:
        return nn.Sequential(
            nn.Conv2d(a, b, 3, stride=stride, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(b, b, 3, padding=1),
            nn.LeakyReLU(0.2),
        )

    class UNet(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.e0 = block(in_channels, w)
            self.e1 = block(w, 2 * w, 2)
            self.e2 = block(2 * w, 4 * w, 2)
            self.e3 = block(4 * w, 4 * w, 2)
            self.d2 = block(8 * w, 2 * w)
            self.d1 = block(4 * w, w)
            self.d0 = block(2 * w, w)
            self.out = nn.Conv2d(w, out_channels, 3, padding=1)
            nn.init.zeros_(self.out.weight)  # start as the plain warp
            nn.init.zeros_(self.out.bias)

        def forward(self, x: Any) -> Any:
            up = nn.functional.interpolate
            x0 = self.e0(x)
            x1 = self.e1(x0)
            x2 = self.e2(x1)
            x3 = self.e3(x2)
            y = self.d2(torch.cat([up(x3, scale_factor=2.0, mode="nearest"), x2], 1))
            y = self.d1(torch.cat([up(y, scale_factor=2.0, mode="nearest"), x1], 1))
            y = self.d0(torch.cat([up(y, scale_factor=2.0, mode="nearest"), x0], 1))
            residual = 0.5 * torch.tanh(self.out(y))
            return x[:, :out_channels] + residual

    return UNet()


def parameter_count(net: Any) -> int:
    return int(sum(p.numel() for p in net.parameters()))


__all__ = ["TORCH_HINT", "build_net", "import_torch", "parameter_count"]

# Copyright (c) mmema contributors. All rights reserved.
"""ECA: Efficient Channel Attention (Wang et al., CVPR 2020)."""
import math
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_int, check_positive_ints


def eca_kernel_size(channels: int, gamma: int = 2, beta: int = 1) -> int:
    """The paper's adaptive kernel size ``|log2(C) / gamma + beta / gamma|``
    rounded down to an int and then up to the nearest odd number.

    Args:
        channels (int): Channels ``C`` of the input.
        gamma (int): ``gamma`` of the mapping. Defaults to 2.
        beta (int): ``b`` of the mapping. Defaults to 1.

    Returns:
        int: An odd kernel size, e.g. 5 for 256 channels, 7 for 2048.
    """
    size = int(abs((math.log2(channels) + beta) / gamma))
    return size if size % 2 else size + 1


def check_eca_args(in_channels: int, kernel_size: Optional[int], gamma: int,
                   beta: int) -> None:
    """Validate ECA's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
        kernel_size (int, optional): Fixed kernel size or None.
        gamma (int): ``gamma`` of the adaptive kernel size.
        beta (int): ``b`` of the adaptive kernel size.
    """
    check_positive_ints('ECA', in_channels=in_channels, gamma=gamma)
    check_int('ECA', 'beta', beta)
    if kernel_size is not None:
        check_int('ECA', 'kernel_size', kernel_size)
    if kernel_size is not None and (kernel_size < 1 or kernel_size % 2 == 0):
        raise ValueError(
            f'ECA: kernel_size must be a positive odd int (the 1D conv keeps '
            f'the channel count), got {kernel_size}. Use kernel_size=None '
            'for the paper\'s adaptive size.')


@MODELS.register_module(name=['ECA', 'EfficientChannelAttention'])
class ECA(BaseModule):
    """Efficient Channel Attention.

    Paper: `ECA-Net: Efficient Channel Attention for Deep Convolutional
    Neural Networks <https://arxiv.org/abs/1910.03151>`_ (Wang et al.,
    CVPR 2020).

    Global average pooling gives one value per channel; a 1D convolution
    across neighbouring channels (no bias, no dimensionality reduction) and
    a sigmoid give the channel weights. By default the kernel size adapts
    to the channel count as in the paper (``gamma=2``, ``b=1``).

    Args:
        in_channels (int): Channels of the input feature map.
        kernel_size (int, optional): Odd size of the 1D kernel. Defaults to
            None: the paper's adaptive size, see :func:`eca_kernel_size`.
        gamma (int): ``gamma`` of the adaptive kernel size. Defaults to 2.
        beta (int): ``b`` of the adaptive kernel size. Defaults to 1.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization).
    """

    _abbr_ = 'eca_attn'

    def __init__(self,
                 in_channels: int,
                 kernel_size: Optional[int] = None,
                 gamma: int = 2,
                 beta: int = 1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_eca_args(in_channels, kernel_size, gamma, beta)
        self.in_channels = in_channels
        if kernel_size is None:
            kernel_size = eca_kernel_size(in_channels, gamma, beta)
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(
            1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, '
                f'kernel_size={self.kernel_size}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its attention weight.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W).
        """
        check_feature_map('ECA', x, self.in_channels)
        pooled = x.mean((2, 3)).unsqueeze(1)  # (B, 1, C)
        logits = self.conv(pooled)  # (B, 1, C)
        return x * logits.transpose(1, 2).unsqueeze(3).sigmoid()

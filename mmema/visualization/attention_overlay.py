# Copyright (c) mmema contributors. All rights reserved.
"""Draw attention maps over images."""
from typing import Dict, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.visualization import Visualizer

#: Height of the caption strip above each tile of a panel, in pixels.
CAPTION_HEIGHT = 18


def crop_to_valid(attn: torch.Tensor, valid_shape: Tuple[int, int],
                  padded_shape: Tuple[int, int]) -> torch.Tensor:
    """Drop the part of a map that covers bottom/right batch padding.

    Args:
        attn (Tensor): Map of shape (h, w) computed on the padded input.
        valid_shape (tuple[int, int]): (H, W) of the image inside the input.
        padded_shape (tuple[int, int]): (H_pad, W_pad) of the padded input.

    Returns:
        Tensor: The map over the image only, (h', w') with h' <= h, w' <= w.
    """
    rows = int(np.ceil(attn.shape[0] * valid_shape[0] / padded_shape[0]))
    cols = int(np.ceil(attn.shape[1] * valid_shape[1] / padded_shape[1]))
    return attn[:rows, :cols]


def overlay_attention(image: np.ndarray,
                      attn: torch.Tensor,
                      alpha: float = 0.5) -> np.ndarray:
    """Blend a jet-coloured attention map over an image.

    The map is resized (bilinear) to the image and min-max normalised, so
    the colours show where the layer attends most and least.

    Args:
        image (np.ndarray): RGB image of shape (H, W, 3), uint8.
        attn (Tensor): Map of shape (h, w).
        alpha (float): Weight of the heat map. Defaults to 0.5.

    Returns:
        np.ndarray: RGB image of shape (H, W, 3), uint8.
    """
    resized = F.interpolate(
        attn[None, None].float(),
        size=image.shape[:2],
        mode='bilinear',
        align_corners=False)[0]  # (1, H, W)
    return Visualizer.draw_featmap(
        resized,
        overlaid_image=image,
        channel_reduction='squeeze_mean',
        alpha=alpha)


def _captioned(tile: np.ndarray, caption: str) -> np.ndarray:
    """``tile`` (H, W, 3) with a white caption strip on top."""
    strip = np.full((CAPTION_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, caption, (2, CAPTION_HEIGHT - 5),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, tile])


def attention_panel(image: np.ndarray,
                    stage_maps: Dict[str, torch.Tensor],
                    alpha: float = 0.5,
                    min_side: int = 224) -> np.ndarray:
    """The image beside one attention overlay per stage, each captioned.

    Args:
        image (np.ndarray): RGB image of shape (H, W, 3), uint8.
        stage_maps (dict[str, Tensor]): Stage name to a map of shape (h, w).
        alpha (float): Weight of the heat maps. Defaults to 0.5.
        min_side (int): Smaller images are enlarged (bilinear) until their
            shorter side has this many pixels, so that small inputs such as
            CIFAR's 32 px stay readable. Defaults to 224.

    Returns:
        np.ndarray: RGB image of shape
        (H' + CAPTION_HEIGHT, W' * (1 + len(stage_maps)), 3), uint8, where
        (H', W') is the possibly enlarged image size.
    """
    scale = min_side / min(image.shape[:2])
    if scale > 1:
        image = cv2.resize(
            image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    tiles = [_captioned(image, 'input')]
    for stage, attn in stage_maps.items():
        tiles.append(_captioned(overlay_attention(image, attn, alpha), stage))
    return np.concatenate(tiles, axis=1)

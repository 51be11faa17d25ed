# Copyright (c) mmema contributors. All rights reserved.
"""Overlay utilities: cropping padding, colouring, panel layout."""
import numpy as np
import torch

from mmema.visualization import (CAPTION_HEIGHT, attention_panel,
                                 crop_to_valid, overlay_attention)


def test_crop_to_valid_drops_the_padded_border():
    attn = torch.arange(8 * 10.).reshape(8, 10)  # stride 4 over 32 x 40
    cropped = crop_to_valid(attn, valid_shape=(30, 21), padded_shape=(32, 40))
    # 30/32 of 8 rows -> 7.5 -> 8; 21/40 of 10 columns -> 5.25 -> 6.
    assert cropped.shape == (8, 6)
    torch.testing.assert_close(cropped, attn[:, :6])


def test_overlay_puts_hot_colours_where_attention_is_high():
    image = np.full((40, 60, 3), 128, np.uint8)
    attn = torch.zeros(4, 6)
    attn[:, 3:] = 1.0  # right half attended
    out = overlay_attention(image, attn, alpha=0.5)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    left, right = out[:, :20].mean((0, 1)), out[:, -20:].mean((0, 1))
    # Jet: low -> blue, high -> red (RGB order).
    assert left[2] > left[0] and right[0] > right[2]


def test_panel_lays_out_input_and_one_tile_per_stage():
    image = np.zeros((30, 20, 3), np.uint8)
    maps = {
        'backbone.layer2': torch.rand(4, 3),
        'backbone.layer3': torch.rand(2, 2)
    }
    panel = attention_panel(image, maps, min_side=60)
    # Enlarged x3 to a shorter side of 60: 90 x 60 per tile.
    assert panel.shape == (90 + CAPTION_HEIGHT, 3 * 60, 3)
    input_tile = panel[CAPTION_HEIGHT:, :60]
    assert (input_tile == 0).all()
    assert panel[CAPTION_HEIGHT:, 60:].any()
    # Captions are drawn (dark text on the white strip).
    assert (panel[:CAPTION_HEIGHT] < 128).any()

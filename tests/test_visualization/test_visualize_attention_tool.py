# Copyright (c) mmema contributors. All rights reserved.
"""tools/visualize_attention.py on a detection and a classification config,
with randomly initialised, narrowed models saved in tmp_path."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from mmema.visualization import CAPTION_HEIGHT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Same networks, narrow enough for a fast test: (config, overrides, stages).
CASES = {
    'detection': ('configs/ema_faster-rcnn_r50.py', [
        'model.backbone.base_channels=8',
        'model.neck.in_channels=[32,64,128,256]',
        'model.neck.out_channels=16',
        'model.rpn_head.in_channels=16',
        'model.rpn_head.feat_channels=16',
        'model.roi_head.bbox_roi_extractor.out_channels=16',
        'model.roi_head.bbox_head.in_channels=16',
        'model.roi_head.bbox_head.fc_out_channels=32',
        'test_dataloader.dataset.pipeline.1.scale=(200,150)',
    ], ['backbone.layer2', 'backbone.layer3', 'backbone.layer4']),
    'classification': ('configs/ema_resnet50_cifar100.py', [
        'model.backbone.stem_channels=8',
        'model.backbone.base_channels=8',
        'model.head.in_channels=256',
    ], [
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3',
        'backbone.layer4'
    ]),
}


def _options(overrides: list) -> dict:
    options = {}
    for item in overrides:
        key, value = item.split('=', 1)
        options[key] = eval(value)  # literals written above
    return options


@pytest.mark.parametrize('task', sorted(CASES))
def test_writes_one_panel_per_image(tmp_path, task):
    config, overrides, stages = CASES[task]
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.merge_from_dict(_options(overrides))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    rng = np.random.default_rng(0)
    images = []
    for name, (h, w) in (('wide', (90, 120)), ('tall', (64, 40))):
        images.append(str(tmp_path / f'{name}.png'))
        cv2.imwrite(images[-1], rng.integers(0, 256, (h, w, 3), np.uint8))
    out_dir = tmp_path / 'attention'

    result = subprocess.run([
        sys.executable, 'tools/visualize_attention.py', config, checkpoint,
        *images, '--out-dir',
        str(out_dir), '--cfg-options', *overrides
    ],
                            cwd=ROOT,
                            capture_output=True,
                            text=True)

    assert result.returncode == 0, result.stderr[-3000:]
    # The tool prints the PNGs it wrote (after mmengine's log lines).
    written = [w for w in result.stdout.split() if w.endswith('.png')]
    assert written == [
        str(out_dir / 'wide_ema_attention.png'),
        str(out_dir / 'tall_ema_attention.png')
    ]
    for path in written:
        panel = cv2.imread(path)
        assert panel is not None and osp.getsize(path) > 0
        tile_h = panel.shape[0] - CAPTION_HEIGHT
        tile_w = panel.shape[1] // (1 + len(stages))
        assert panel.shape[1] == tile_w * (1 + len(stages))
        assert min(tile_h, tile_w) >= 224  # small inputs are enlarged
        tiles = [
            panel[CAPTION_HEIGHT:, i * tile_w:(i + 1) * tile_w]
            for i in range(1 + len(stages))
        ]
        for overlay in tiles[1:]:  # heat maps change the input's pixels
            assert np.abs(overlay.astype(int) - tiles[0]).mean() > 5


def test_checkpoint_of_another_model_is_refused(tmp_path):
    config, overrides, _ = CASES['classification']
    checkpoint = str(tmp_path / 'other.pth')
    torch.save({'state_dict': torch.nn.Linear(2, 2).state_dict()}, checkpoint)
    image = str(tmp_path / 'x.png')
    cv2.imwrite(image, np.zeros((32, 32, 3), np.uint8))
    result = subprocess.run([
        sys.executable, 'tools/visualize_attention.py', config, checkpoint,
        image, '--out-dir',
        str(tmp_path), '--cfg-options', *overrides
    ],
                            cwd=ROOT,
                            capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert 'Pass the config the checkpoint was trained with' in result.stderr

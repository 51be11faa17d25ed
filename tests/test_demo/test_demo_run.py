# Copyright (c) mmema contributors. All rights reserved.
"""The demo's run: its config handling, and the whole pipeline shrunk."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest
from mmengine.config import Config

from mmema.demo.demo_run import keep_previous_run, prepare_demo_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'ema_faster-rcnn_r50_demo.py')


@pytest.fixture(scope='module')
def demo_cfg() -> Config:
    return Config.fromfile(DEMO_CONFIG)


def test_config_points_every_path_into_the_output_folder(demo_cfg, tmp_path):
    cfg = prepare_demo_config(demo_cfg, str(tmp_path), baseline=False)
    data_root = osp.join(str(tmp_path), 'data') + os.sep
    assert cfg.work_dir == osp.join(str(tmp_path), 'ema')
    assert cfg.train_dataloader.dataset.data_root == data_root
    assert cfg.test_dataloader.dataset.data_root == data_root
    assert cfg.test_evaluator.ann_file == osp.join(data_root, 'annotations',
                                                   'instances_val.json')
    assert cfg.val_dataloader is None  # evaluated once, as the test
    assert cfg.model.backbone.plugins[0].cfg.type == 'EMA'
    assert 'work_dir' not in demo_cfg  # the input is not changed
    assert demo_cfg.val_dataloader is not None


def test_baseline_is_the_same_config_without_ema(demo_cfg, tmp_path):
    ema = prepare_demo_config(demo_cfg, str(tmp_path), baseline=False)
    baseline = prepare_demo_config(demo_cfg, str(tmp_path), baseline=True)
    assert baseline.work_dir == osp.join(str(tmp_path), 'baseline')
    assert baseline.model.backbone.plugins is None
    ema.model.backbone.plugins = None
    assert baseline.model == ema.model
    assert baseline.train_dataloader == ema.train_dataloader
    assert baseline.param_scheduler == ema.param_scheduler
    with pytest.raises(ValueError, match='builds none'):
        prepare_demo_config(baseline, str(tmp_path), baseline=True)


def load_tool(name: str):
    """A script of tools/ as a module (its functions, not its main)."""
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_yolo_demo_is_yolov5s_ema_into_its_own_folder(tmp_path):
    parse_args = load_tool('run_demo').parse_args
    args = parse_args(['--yolo'])
    assert args.work_dir == 'work_dirs/demo_yolo'
    cfg = prepare_demo_config(
        Config.fromfile(args.config), str(tmp_path), baseline=True)
    assert cfg.model.backbone.type == 'PluginYOLOv5CSPDarknet'
    assert cfg.model.backbone.plugins is None
    assert parse_args([]).config == DEMO_CONFIG


def test_previous_run_is_kept(tmp_path):
    run_dir = tmp_path / 'ema'
    assert keep_previous_run(str(run_dir)) is None
    run_dir.mkdir()
    (run_dir / 'epoch_4.pth').write_bytes(b'weights')
    kept = keep_previous_run(str(run_dir))
    assert not run_dir.exists()
    with open(osp.join(kept, 'epoch_4.pth'), 'rb') as f:
        assert f.read() == b'weights'


@pytest.mark.parametrize('detector', [[], ['--yolo']],
                         ids=['faster-rcnn', 'yolo'])
def test_demo_end_to_end_on_a_shrunk_setting(tmp_path, detector):
    """The full demo pipeline on 4 training and 2 validation images."""
    result = subprocess.run([
        sys.executable, 'tools/run_demo.py', *detector, '--work-dir',
        str(tmp_path), '--cfg-options', 'demo_data.num_train=4',
        'demo_data.num_val=2', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=2'
    ],
                            cwd=ROOT,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / 'ema' / 'metrics.json', encoding='utf-8') as f:
        metrics = json.load(f)
    assert f"bbox mAP@0.5 = {metrics['bbox_map50']:.3f}" in result.stdout
    assert 0 <= metrics['bbox_map50'] <= 1
    assert metrics['checkpoint'] == str(tmp_path / 'ema' / 'epoch_1.pth')
    assert osp.getsize(metrics['checkpoint']) > 0
    log_dir = metrics['log_dir']
    assert osp.getsize(osp.join(log_dir, osp.basename(log_dir) + '.log')) > 0
    detections = sorted(os.listdir(osp.join(log_dir, 'detections')))
    assert detections == ['000000.png', '000001.png']
    assert len(metrics['attention_pngs']) == 2
    for png in metrics['attention_pngs'] + [
            osp.join(log_dir, 'detections', d) for d in detections
    ]:
        assert cv2.imread(png) is not None
    # The data went to the output folder, too.
    assert sorted(os.listdir(tmp_path / 'data' /
                             'train')) == [f'{i:06d}.png' for i in range(4)]
    # collect_results.py fills the demo's README row from this run.
    config = 'yolov5_s-v61-ema_demo' if detector else 'ema_faster-rcnn_r50_demo'
    readme = tmp_path / 'README.md'
    readme.write_text('| Config | box AP50 | box AP |\n|---|---|---|\n'
                      f'| [{config}](configs/demo/{config}.py) | - | - |\n')
    collected = subprocess.run([
        sys.executable, 'tools/analysis_tools/collect_results.py',
        str(tmp_path / 'ema'), '--readme',
        str(readme), '--metafiles',
        str(tmp_path)
    ],
                               cwd=ROOT,
                               capture_output=True,
                               text=True)
    assert collected.returncode == 0, collected.stderr[-3000:]
    assert readme.read_text().endswith(
        f"| {metrics['bbox_map50']:.3f} | {metrics['bbox_map']:.3f} |\n")

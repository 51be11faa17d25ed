# Copyright (c) mmema contributors. All rights reserved.
"""mmengine's ``compile=True`` through tools/train.py on an EMA classifier.

A one-stage CIFAR ResNet-18 with EMA after conv2 trains two epochs on a
generated image folder with its ``train_step`` compiled by torch.compile
(mmengine's Runner), then evaluates.
"""
import re
import sys

from test_classification_tools import write_image_folder
from tool_runs import run

CONFIG = """
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmema', 'compiled_hook'],
                      allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='PluginResNet_CIFAR', depth=18, num_stages=1, strides=(1, ),
        dilations=(1, ), out_indices=(0, ),
        plugins=[dict(cfg=dict(type='EMA', factor=8),
                      position='after_conv2')]),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=3, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(num_classes=3, mean=[128.0] * 3, std=[64.0] * 3)
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler'),
    dataset=dict(type='CustomDataset', data_root='{root}',
                 data_prefix='train', pipeline=pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root='{root}',
                 data_prefix='val', pipeline=pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=2)
val_cfg = dict()
default_hooks = dict(logger=dict(interval=1))
custom_hooks = [dict(type='ReportCompiledTrainStep')]
compile = True
"""

HOOK = '''
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ReportCompiledTrainStep(Hook):
    """Log whether the model's train_step is torch.compile's wrapper."""

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        compiled = hasattr(runner.model.train_step,
                           '_torchdynamo_orig_callable')
        runner.logger.info(f'train_step compiled: {compiled}')
'''


def test_compile_true_trains_and_evaluates(tmp_path):
    data = tmp_path / 'data'
    write_image_folder(data / 'train', 4)  # 12 images: 3 iterations
    write_image_folder(data / 'val', 2)
    (tmp_path / 'tiny.py').write_text(CONFIG.replace('{root}', str(data)))
    (tmp_path / 'compiled_hook.py').write_text(HOOK)
    proc = run([
        sys.executable, 'tools/train.py',
        str(tmp_path / 'tiny.py'), '--work-dir',
        str(tmp_path / 'work_dir')
    ], tmp_path)
    assert proc.returncode == 0, proc.output[-3000:]
    assert proc.output.count('train_step compiled: True') == 6
    assert re.search(r'Epoch\(train\)\s+\[2\]\[3/3\].*loss: \d', proc.output)
    assert re.search(r'accuracy/top1: \d', proc.output)

# Copyright (c) mmema contributors. All rights reserved.
# YOLOv8s (mmyolo's recipe, COCO, 500 epochs, 8 GPUs x 16) with EMA
# (arXiv 2305.13563) at the EMA paper's YOLOv5s places: after the C2f layers
# of P4 and P5 (256 and 512 channels here), the second one before SPPF.
# factor 32 divides every width EMA sits on in YOLOv8 n/s/m/l/x
# (128/256, 256/512, 384/576, 512/512, 640/640).
#
# Baseline (mmyolo's own YOLOv8s, key for key):
#         --cfg-options model.backbone.plugins=None
_base_ = 'mmyolo::yolov8/yolov8_s_syncbn_fast_8xb16-500e_coco.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='PluginYOLOv8CSPDarknet',
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(False, False, True, True),
                position='after_csp')
        ]))

# See yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py (open-mmlab/mmyolo#886).
# albumentations 2 draws from generators of its own, which randomness.seed
# does not reach: mmema's SeededAlbu (mmdet.Albu seeded from the run's seed)
# makes two runs of this config one run.
train_pipeline = [
    dict(t, type='mmdet.SeededAlbu') if t['type'] == 'mmdet.Albu' else t
    for t in _base_.train_pipeline
]
train_pipeline_stage2 = [
    dict(t, type='mmdet.SeededAlbu') if t['type'] == 'mmdet.Albu' else t
    for t in _base_.train_pipeline_stage2
]
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='yolov5_collate'),
    dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(h, switch_pipeline=train_pipeline_stage2)
    if h['type'] == 'mmdet.PipelineSwitchHook' else h
    for h in _base_.custom_hooks
]

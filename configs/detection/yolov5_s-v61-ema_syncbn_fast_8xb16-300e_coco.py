# Copyright (c) mmema contributors. All rights reserved.
# YOLOv5s v6.1 (mmyolo's recipe, COCO, 300 epochs, 8 GPUs x 16) with EMA
# (arXiv 2305.13563, factor 32) where the EMA paper's YOLOv5s has it
# (yolov5s_EMA.yaml of the official repository): after the C3 layers of P4
# and P5, on 256 and 512 channels, the second one before SPPF.
#
# Train:  python tools/train.py configs/detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py
#         tools/dist_train.sh configs/detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py 8
# Baseline (mmyolo's own YOLOv5s, key for key):
#         --cfg-options model.backbone.plugins=None
# CA, CBAM, ECA and SA in the same places: configs/ablations/yolov5_s-v61-*.
#
# The paper's Params (7.23M without, 7.24M with EMA) beside this build's:
#   python tools/analysis_tools/get_flops.py \
#       configs/detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py --paper
# In multi-GPU runs mmyolo's YOLODetector turns every BN into SyncBN (the
# "syncbn" of the name); on a CPU, processes keep plain BN (mmema's
# CPUDistributedDataParallel reverts it, as SyncBN needs GPUs).
_base_ = 'mmyolo::yolov5/yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='PluginYOLOv5CSPDarknet',
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(False, False, True, True),
                position='after_csp')
        ]))

# A base read through `mmyolo::` gets _scope_='mmyolo' in every typed dict,
# and the collate function, a plain function, rejects it
# (open-mmlab/mmyolo#886): restate it without.
# albumentations 2 draws from generators of its own, which randomness.seed
# does not reach: mmema's SeededAlbu (mmdet.Albu seeded from the run's seed)
# makes two runs of this config one run.
train_pipeline = [
    dict(t, type='mmdet.SeededAlbu') if t['type'] == 'mmdet.Albu' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='yolov5_collate'),
    dataset=dict(pipeline=train_pipeline))

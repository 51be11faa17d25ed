# Copyright (c) mmema contributors. All rights reserved.
# YOLOX-s 300e COCO with EMA (factor 32) in the CSPDarknet backbone at the
# places the EMA paper uses in YOLOv5s v6.0: after the CSP (C3) blocks of
# the P4 and P5 stages.
# Baseline (mmdet's YOLOX-s; PluginCSPDarknet without plugins is
# CSPDarknet key for key):
#     --cfg-options model.backbone.plugins=None
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

# Stage mask (False, False, True, True): CSPDarknet's stages 1-4 output P2-P5
# (strides 4-32); the paper puts EMA after the C3 blocks of P4 and P5, i.e.
# after the CSP layers of stages 3 and 4, on 256 and 512 channels at
# widen_factor 0.5 (both divisible by factor 32). In mmdet's P5 stage the SPP
# layer comes before the CSP layer, so EMA ends the stage there. YOLOX
# trains its backbone from scratch upstream, and so does this config.
model = dict(
    backbone=dict(
        type='PluginCSPDarknet',
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(False, False, True, True))
        ]))

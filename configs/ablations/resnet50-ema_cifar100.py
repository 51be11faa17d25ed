# Copyright (c) mmema contributors. All rights reserved.
# CIFAR-100 ResNet-50 ablation:
# EMA (Ouyang et al. 2023, arXiv 2305.13563): factor 32, after conv3 of
# every bottleneck in all stages, exactly as configs/ema_resnet50_cifar100.py
# sets it (the paper's placement).
# Params 23,903,620 (23.90M); the paper's 23.85M matches no natural
# placement (docs/paper_numbers.md).
# Every configs/ablations/resnet50-*_cifar100.py shares recipe and data;
# train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/resnet50-*_cifar100.py
_base_ = '../ema_resnet50_cifar100.py'

# The paper reports top-1 and top-5.
val_evaluator = dict(topk=(1, 5))
test_evaluator = dict(topk=(1, 5))

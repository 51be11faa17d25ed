# Copyright (c) mmema contributors. All rights reserved.
"""Batch-1 inference latency with and without EMA (and SE), in PyTorch or
onnxruntime.

    python tools/analysis_tools/benchmark_inference.py
        [--runtime {pytorch,onnxruntime}] [--model {resnet50,yolox_s}]
        [--size S] [--threads N] [--repeats R]

See :mod:`mmema.analysis.inference_benchmark`.
"""
from mmema.analysis.inference_benchmark import main

if __name__ == '__main__':
    main()

# Copyright (c) mmema contributors. All rights reserved.
"""Time EMA against the reference EMA, the other attentions and a ResNet-50
bottleneck, or ResNet-50 train steps (``--model``).

    python tools/analysis_tools/benchmark_attention.py [--device cuda]
        [--threads N] [--model] [--shapes B,C,H,W ...]

See :mod:`mmema.analysis.attention_benchmark`.
"""
from mmema.analysis.attention_benchmark import main

if __name__ == '__main__':
    main()

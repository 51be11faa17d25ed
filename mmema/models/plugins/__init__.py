# Copyright (c) mmema contributors. All rights reserved.
from .ema import EMA

__all__ = ['EMA']

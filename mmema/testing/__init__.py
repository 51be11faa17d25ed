# Copyright (c) mmema contributors. All rights reserved.
from .ema_reference import PublishedEMA

__all__ = ['PublishedEMA']

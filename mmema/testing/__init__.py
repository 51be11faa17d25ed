# Copyright (c) mmema contributors. All rights reserved.
from .ema_reference import PublishedEMA
from .random_init import randomize_norms_

__all__ = ['PublishedEMA', 'randomize_norms_']

# Copyright (c) mmema contributors. All rights reserved.
from .random_init import randomize_norms_

__all__ = ['randomize_norms_']

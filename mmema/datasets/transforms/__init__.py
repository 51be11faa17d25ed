# Copyright (c) mmema contributors. All rights reserved.
from .seeded_albu import SeededAlbu

__all__ = ['SeededAlbu']

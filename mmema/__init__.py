# Copyright (c) mmema contributors. All rights reserved.
# Importing mmema registers its modules (``custom_imports=['mmema']``).
from . import datasets, engine, models, visualization  # noqa: F401
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']

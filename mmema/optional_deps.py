# Copyright (c) mmema contributors. All rights reserved.
"""Packages mmema registers modules for only where they are installed."""
import functools
import importlib.util
import warnings


@functools.lru_cache(maxsize=None)
def mmyolo_available() -> bool:
    """Whether mmyolo imports, so that mmema's YOLO modules can register.

    mmyolo 0.6.0 asserts ``mmcv < 2.1.0`` at import. Where it is installed
    but does not import, mmema warns once and registers everything else.

    Returns:
        bool: True if ``import mmyolo`` succeeded.
    """
    if importlib.util.find_spec('mmyolo') is None:
        return False
    try:
        import mmyolo  # noqa: F401
    except (ImportError, AssertionError) as err:
        warnings.warn(
            f'mmyolo is installed but does not import ({err}); mmema '
            'registers no YOLO modules (PluginYOLOv5CSPDarknet, ...). '
            'mmyolo 0.6.0 needs mmcv>=2.0.0rc4,<2.1.0.')
        return False
    return True

# Copyright (c) mmema contributors. All rights reserved.
__all__ = []

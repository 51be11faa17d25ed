# Copyright (c) mmema contributors. All rights reserved.
from mmema.optional_deps import mmyolo_available
from .backbones import *  # noqa: F401,F403
from .plugins import *  # noqa: F401,F403

if mmyolo_available():
    from .yolo import *  # noqa: F401,F403

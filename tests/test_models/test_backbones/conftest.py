# Copyright (c) mmema contributors. All rights reserved.
from typing import Iterator

import pytest
from mmengine.registry import DefaultScope


@pytest.fixture
def mmpretrain_scope() -> Iterator[None]:
    """Build mmpretrain backbones in mmpretrain's scope.

    ``Registry.build`` resolves names in the current default scope, which an
    earlier test may have left at another package.
    """
    import mmpretrain.registry  # noqa: F401  (creates the scope)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield

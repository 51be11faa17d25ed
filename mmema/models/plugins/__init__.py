# Copyright (c) mmema contributors. All rights reserved.
from .ca import CA
from .cbam import CBAM
from .eca import ECA
from .ema import EMA
from .nam import NAM
from .sa import SA
from .se import SE

__all__ = ['EMA', 'SE', 'CA', 'CBAM', 'ECA', 'SA', 'NAM']

# Copyright (c) mmema contributors. All rights reserved.
"""mmdet's ``Albu`` with albumentations seeded from the run's seed."""
import os
import random
from typing import Optional, Union

import numpy as np
from mmdet.datasets.transforms import Albu
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SeededAlbu(Albu):
    """``mmdet.Albu`` whose albumentations draw from the run's seed.

    albumentations 2 draws its random numbers from generators of its own
    ``Compose``, seeded from the operating system unless ``Compose`` is
    given a seed, so ``randomness.seed`` does not reach ``mmdet.Albu``
    (mmyolo's YOLO recipes) and two runs of one config differ. This
    transform gives its ``Compose`` one generator, shared by its transforms
    in turn (``Compose(seed=...)`` would give each transform the same seed,
    and transforms of equal probability would fire together), seeded once
    in each process that runs it (the main process, each data loader
    worker) from numpy's global generator, which mmengine seeds from
    ``randomness.seed`` and the worker's id. (Older albumentations draw
    from numpy's generator itself: nothing to seed.) Arguments are
    ``mmdet.Albu``'s.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._seeded_in: Optional[int] = None

    def transform(self, results: dict) -> Union[dict, None]:
        """Seed the albumentations once per process, then ``Albu``'s
        transform."""
        if self._seeded_in != os.getpid() and hasattr(self.aug,
                                                      'set_random_state'):
            seed = int(np.random.randint(2**31 - 1))
            self.aug.set_random_state(
                np.random.default_rng(seed), random.Random(seed))
            self._seeded_in = os.getpid()
        return super().transform(results)

# Copyright (c) mmema contributors. All rights reserved.
from .attention_inference import (build_image_pipeline,
                                  compute_stage_attention,
                                  save_attention_panels, visualize_attention)
from .attention_overlay import (CAPTION_HEIGHT, attention_panel, crop_to_valid,
                                overlay_attention)
from .attention_recorder import EMAAttentionRecorder, stage_name

__all__ = [
    'CAPTION_HEIGHT', 'EMAAttentionRecorder', 'attention_panel',
    'build_image_pipeline', 'compute_stage_attention', 'crop_to_valid',
    'overlay_attention', 'save_attention_panels', 'stage_name',
    'visualize_attention'
]

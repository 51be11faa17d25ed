# Copyright (c) mmema contributors. All rights reserved.
"""The demo: an EMA detector trained and tested on generated shapes.

    python tools/run_demo.py [--yolo] [--baseline] [--work-dir DIR]
        [--config CONFIG] [--cfg-options KEY=VALUE ...]

Draws a small COCO-format data set (``{work-dir}/data``), trains the
detector of ``configs/demo/ema_faster-rcnn_r50_demo.py`` (with ``--yolo``:
``configs/demo/yolov5_s-v61-ema_demo.py``, YOLOv5s-EMA) on the CPU,
evaluates it with CocoMetric and writes into ``{work-dir}/ema`` (or
``/baseline``, the same run without EMA): the checkpoint, and in the run's
timestamped folder the log, the detections drawn on the validation images
and the EMA attention maps. A previous run's folder is kept under a
timestamped name. Run both variants for a side-by-side table.
"""
import argparse
import os.path as osp
import time
from typing import Optional, Sequence


from mmema.analysis.markdown_table import format_table
from mmema.demo.demo_run import (DemoResult, generate_demo_data,
                                 keep_previous_run, load_results,
                                 prepare_demo_config, run_demo)
from mmema.engine import add_cfg_options, load_config

DEMO_CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'demo')
#: Demo config and output folder of each detector.
DEMOS = {
    'faster-rcnn': (osp.join(DEMO_CONFIGS, 'ema_faster-rcnn_r50_demo.py'),
                    'work_dirs/demo'),
    'yolo': (osp.join(DEMO_CONFIGS, 'yolov5_s-v61-ema_demo.py'),
             'work_dirs/demo_yolo'),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test an EMA detector on generated shapes')
    parser.add_argument(
        '--yolo',
        action='store_true',
        help='YOLOv5s-EMA (mmyolo) instead of EMA Faster R-CNN')
    parser.add_argument(
        '--baseline',
        action='store_true',
        help='the same run without EMA (into {work-dir}/baseline)')
    parser.add_argument(
        '--work-dir',
        help='output folder (default: work_dirs/demo, with --yolo '
        'work_dirs/demo_yolo)')
    parser.add_argument(
        '--config',
        help='demo config file (default: the detector\'s, in configs/demo)')
    add_cfg_options(parser, 'train_cfg.max_epochs=1')
    args = parser.parse_args(argv)
    config, work_dir = DEMOS['yolo' if args.yolo else 'faster-rcnn']
    args.config = args.config or config
    args.work_dir = args.work_dir or work_dir
    return args


def print_result(result: DemoResult, total_seconds: float) -> None:
    print(f'\n[demo] {result.variant}: bbox mAP@0.5 = {result.bbox_map50:.3f} '
          f'(mAP@0.5:0.95 = {result.bbox_map:.3f}) on the validation set')
    print(f'[demo] trained in {result.train_seconds / 60:.1f} min, '
          f'all done in {total_seconds / 60:.1f} min')
    print(f'[demo] checkpoint:  {result.checkpoint}')
    print(f'[demo] log:         {result.log_dir}')
    print(f'[demo] detections:  {osp.join(result.log_dir, "detections")}')
    if result.attention_pngs:
        print('[demo] EMA attention: '
              f'{osp.dirname(result.attention_pngs[0])}')


def print_comparison(out_dir: str) -> None:
    results = load_results(out_dir)
    if len(results) < 2:
        return
    rows = [[
        r.variant, f'{r.params / 1e6:.2f}', f'{r.bbox_map50:.3f}',
        f'{r.bbox_map:.3f}', f'{r.train_seconds / 60:.1f}'
    ] for r in results.values()]
    print('\n' + format_table(
        ['run', 'Params (M)', 'bbox mAP@0.5', 'bbox mAP', 'train (min)'], rows)
          )


def main(argv: Optional[Sequence[str]] = None) -> None:
    start = time.perf_counter()
    args = parse_args(argv)
    cfg = load_config(args)
    cfg = prepare_demo_config(cfg, args.work_dir, args.baseline)
    kept = keep_previous_run(cfg.work_dir)
    if kept is not None:
        print(f'[demo] kept the previous run in {kept}')
    generate_demo_data(cfg)
    result = run_demo(cfg)
    print_result(result, time.perf_counter() - start)
    print_comparison(args.work_dir)


if __name__ == '__main__':
    main()

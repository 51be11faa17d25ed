# Copyright (c) mmema contributors. All rights reserved.
"""Convert a VisDrone2019-DET split to a COCO json for ``VisDroneDataset``.

    python tools/dataset_converters/visdrone2coco.py \
        data/VisDrone2019-DET/VisDrone2019-DET-train \
        data/VisDrone2019-DET/annotations/train.json [--skip-bad]

Ignored regions (0) and ``others`` (11) become crowd (ignored) boxes;
zero-size boxes are dropped and counted; a malformed line stops the
conversion with its file and line number unless ``--skip-bad`` is given.
"""
import argparse
import json
import os
import os.path as osp
import tempfile

from mmema.datasets import VisDroneFormatError, convert_visdrone


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='VisDrone2019-DET txt annotations to COCO json')
    parser.add_argument(
        'split_dir', help='split folder holding images/ and annotations/')
    parser.add_argument('out_file', help='COCO json to write')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip and count malformed lines instead of stopping')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace out_file if it exists')
    args = parser.parse_args()
    if osp.exists(args.out_file) and not args.overwrite:
        parser.error(f'{args.out_file} exists: pass --overwrite to replace '
                     'it, or choose another out_file.')
    return args


def dump_json(obj: dict, path: str) -> None:
    """Write ``obj`` so that ``path`` is either complete or untouched."""
    out_dir = osp.dirname(osp.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(suffix='.json.part', dir=out_dir)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(obj, f)
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def main() -> None:
    args = parse_args()
    try:
        coco, summary = convert_visdrone(
            args.split_dir, skip_bad=args.skip_bad)
    except (FileNotFoundError, VisDroneFormatError) as e:
        raise SystemExit(f'\nvisdrone2coco: {e}') from None
    dump_json(coco, args.out_file)
    print(f'\nwrote {args.out_file}\n{summary.format()}')


if __name__ == '__main__':
    main()

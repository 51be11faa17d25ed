# Copyright (c) mmema contributors. All rights reserved.
"""model-index.yml and the metafiles list every config, as mim reads them."""
import glob
import os.path as osp

import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(path: str) -> dict:
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


def test_every_config_is_listed_once_with_its_complexity():
    imports = _load('model-index.yml')['Import']
    assert sorted(imports) == sorted(
        osp.relpath(p, ROOT) for p in glob.glob(
            osp.join(ROOT, 'configs', '**', 'metafile.yml'), recursive=True))
    listed = []
    for metafile in imports:
        meta = _load(metafile)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert model['In Collection'] in collections
            assert osp.dirname(model['Config']) == osp.dirname(metafile)
            assert model['Name'] == osp.splitext(
                osp.basename(model['Config']))[0]
            metadata = model['Metadata']
            assert metadata['Parameters'] > 0 and metadata['FLOPs'] > 0
            assert model['Results'][0]['Task'] in ('Object Detection',
                                                   'Image Classification')
            listed.append(model['Config'])
    configs = sorted(
        osp.relpath(p, ROOT) for p in glob.glob(
            osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
    assert sorted(listed) == configs

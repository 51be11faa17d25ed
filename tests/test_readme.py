# Copyright (c) mmema contributors. All rights reserved.
"""The README's commands name files that exist and start as documented."""
import os
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as _f:
    README = _f.read()
DOCS = {}
for _name in sorted(os.listdir(osp.join(ROOT, 'docs'))):
    with open(osp.join(ROOT, 'docs', _name), encoding='utf-8') as _f:
        DOCS[_name] = _f.read()

# Files the README's readers create themselves.
USER_FILES = {'configs/my_ema_faster-rcnn_r101.py'}


def test_first_two_commands_are_make_demo_and_make_test():
    first_block = re.search(r'```bash\n(.*?)```', README, re.S).group(1)
    commands = [
        line.split('#')[0].strip() for line in first_block.splitlines()
    ]
    assert commands[:2] == ['make demo', 'make test']


def test_every_tool_and_config_named_exists():
    paths = set(
        re.findall(r'\b((?:tools|configs|mmema)/[\w./-]+\.(?:py|sh|yml))',
                   README + ''.join(DOCS.values())))
    assert len(paths) > 15
    missing = sorted(p for p in paths - USER_FILES
                     if not osp.isfile(osp.join(ROOT, p)))
    assert missing == []


def test_no_placeholder_is_left():
    assert not re.search(r'\{[A-Z]+_[A-Z_]+\}', README)  # {DEMO_...}


def test_readme_links_every_docs_page_and_each_link_resolves():
    links = re.findall(r'\]\((docs/[\w.-]+\.md)\)', README)
    assert sorted(set(links)) == sorted(f'docs/{name}' for name in DOCS)
    for name, text in DOCS.items():
        for target in re.findall(r'\]\(([^)#:]+)\)', text):
            assert osp.exists(osp.join(ROOT, 'docs', target)), (name, target)

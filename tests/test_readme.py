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


def test_reproduce_page_has_every_row_of_the_papers_tables():
    from mmema.analysis import PAPER_TABLES
    text = DOCS['reproduce.md']
    sections = re.split(r'^## ', text, flags=re.M)[1:]
    for table in PAPER_TABLES.values():
        if table.key == 'cifar100_resnet50_mmpretrain':
            continue  # not the paper's: mmpretrain's model zoo
        section = next(s for s in sections if table.title in s)
        rows = re.findall(r'^\| (\w+) \| `(configs/[^`]+)`', section, re.M)
        assert sorted(a
                      for a, _ in rows) == sorted(table.attentions), table.key
        for attention, config in rows:
            assert f'python tools/train.py {config}' in section
            assert f'tools/dist_train.sh {config} 8' in section
            assert f'tools/slurm_train.sh PARTITION' in section
        assert section.count('collect_results.py work_dirs/') == len(rows)

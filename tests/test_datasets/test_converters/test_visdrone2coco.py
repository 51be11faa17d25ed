# Copyright (c) mmema contributors. All rights reserved.
"""VisDrone txt -> COCO: parsing, ignored regions, dropped and bad lines."""
import pytest

from mmema.datasets import VISDRONE_CLASSES
from mmema.datasets.converters import (VisDroneBox, VisDroneFormatError,
                                       convert_visdrone, parse_line)

# 0000001: a pedestrian, a car, an ignored region, an `others` box, a
# zero-width and a zero-height box. 0000002: a bus (trailing comma, as in
# some official files) and a van.
GOOD = {
    '0000001': ('10,12,8,20,1,1,0,0\n'
                '40,20,30,15,1,4,1,2\n'
                '60,0,20,10,0,0,0,0\n'
                '0,40,12,12,1,11,0,0\n'
                '5,5,0,9,1,4,0,0\n'
                '5,5,9,0,1,4,0,0\n'),
    '0000002': '1,2,40,30,1,9,0,1,\n\n20,30,10,10,1,5,0,0\n',
}


def test_parse_line():
    assert parse_line('684,8,273,116,0,0,0,0\n') == VisDroneBox(
        684, 8, 273, 116, 0, 0, 0, 0)
    assert parse_line(' 1, 2, 3, 4, 1, 10, 1, 2,\n') == VisDroneBox(
        1, 2, 3, 4, 1, 10, 1, 2)


@pytest.mark.parametrize('line,match', [
    ('1,2,3,4,1,4,0', 'expected 8 comma-separated integers'),
    ('1,2,3,4,1,4,0,0,0', 'got 9 fields'),
    ('1,2,three,4,1,4,0,0', "width is not an integer: 'three'"),
    ('1,2,3,4,1,12,0,0', 'category 12 is outside 0-11'),
    ('1,2,-3,4,1,4,0,0', 'negative size -3x4'),
])
def test_parse_line_names_the_problem(line, match):
    with pytest.raises(ValueError, match=match):
        parse_line(line)


def test_convert_counts_ignores_and_drops(write_visdrone_split):
    split = write_visdrone_split(GOOD, size=(96, 64))
    coco, summary = convert_visdrone(str(split))

    assert [c['name'] for c in coco['categories']] == list(VISDRONE_CLASSES)
    assert [c['id'] for c in coco['categories']] == list(range(1, 11))
    assert coco['images'] == [
        dict(id=1, file_name='0000001.jpg', width=96, height=64),
        dict(id=2, file_name='0000002.jpg', width=96, height=64),
    ]
    objects = [a for a in coco['annotations'] if not a['iscrowd']]
    assert [(a['image_id'], a['category_id'], a['bbox'], a['area'])
            for a in objects] == [(1, 1, [10, 12, 8, 20], 160),
                                  (1, 4, [40, 20, 30, 15], 450),
                                  (2, 9, [1, 2, 40, 30], 1200),
                                  (2, 5, [20, 30, 10, 10], 100)]
    # Each ignored region is a crowd box of every class, so no detection
    # on it counts, whatever its class.
    crowd = [a for a in coco['annotations'] if a['iscrowd']]
    assert len(crowd) == 2 * 10
    for bbox in ([60, 0, 20, 10], [0, 40, 12, 12]):
        assert sorted(a['category_id'] for a in crowd
                      if a['bbox'] == bbox) == list(range(1, 11))
    ids = [a['id'] for a in coco['annotations']]
    assert ids == list(range(1, len(ids) + 1))

    assert summary.images == 2
    assert dict(summary.boxes) == dict(
        pedestrian=1, car=1, bus=1, van=1)
    assert dict(summary.ignored) == {0: 1, 11: 1}
    assert summary.zero_size == 2 and summary.bad_lines == []
    text = summary.format()
    assert 'images: 2' in text and 'boxes: 4' in text
    assert 'ignored as crowd boxes: 2' in text
    assert 'zero-size boxes dropped: 2' in text


def test_bad_line_stops_with_file_and_line(write_visdrone_split):
    split = write_visdrone_split(
        dict(GOOD, **{'0000003': '1,2,3,4,1,4,0,0\n1,2,3,4,1,4\n'}))
    with pytest.raises(VisDroneFormatError) as e:
        convert_visdrone(str(split))
    message = str(e.value)
    assert '0000003.txt:2' in message and '--skip-bad' in message
    assert 'expected 8 comma-separated integers' in message


def test_skip_bad_counts_and_keeps_the_rest(write_visdrone_split):
    split = write_visdrone_split(
        dict(GOOD, **{'0000003': 'x,2,3,4,1,4,0,0\n1,2,3,4,1,4,0,0\n'}))
    coco, summary = convert_visdrone(str(split), skip_bad=True)
    assert len(summary.bad_lines) == 1
    assert '0000003.txt:1' in summary.bad_lines[0]
    assert [a['bbox'] for a in coco['annotations']
            if a['image_id'] == 3] == [[1, 2, 3, 4]]
    assert 'malformed lines skipped: 1' in summary.format()


def test_missing_files_name_what_is_expected(write_visdrone_split, tmp_path):
    split = write_visdrone_split(GOOD)
    (split / 'annotations' / '0000002.txt').unlink()
    with pytest.raises(FileNotFoundError, match='0000002.txt not found'):
        convert_visdrone(str(split))
    with pytest.raises(FileNotFoundError, match='images/ and annotations/'):
        convert_visdrone(str(tmp_path / 'nowhere'))

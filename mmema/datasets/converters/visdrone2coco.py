# Copyright (c) mmema contributors. All rights reserved.
"""Convert VisDrone2019-DET txt annotations to a COCO json.

The official format (``EMA_SPEC.md``) has one ``.txt`` per image and one
object per line: ``left,top,width,height,score,category,truncation,
occlusion``. Categories 1-10 become COCO categories with the same ids.
Ignored regions (0) and ``others`` (11) become crowd boxes (``iscrowd=1``),
one per category, because pycocotools ignores a crowd box only for
detections of its own category, while these regions hold no class: any
detection on them is neither a hit nor a false positive, and they never
count as misses. mmdet loads crowd boxes as ignored instances, so they are
never trained as objects either.
"""
import collections
from dataclasses import dataclass, field
from pathlib import Path
from typing import Counter, List, NamedTuple, Tuple

from mmengine.utils import ProgressBar
from PIL import Image

from ..visdrone import VISDRONE_CLASSES

FIELDS = ('left', 'top', 'width', 'height', 'score', 'category',
          'truncation', 'occlusion')
IGNORED_CATEGORIES = {0: 'ignored region', 11: 'others'}
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')
CATEGORY_IDS = tuple(range(1, len(VISDRONE_CLASSES) + 1))


class VisDroneFormatError(ValueError):
    """A line of a VisDrone annotation file that does not parse."""


class VisDroneBox(NamedTuple):
    """One parsed annotation line (all fields are integers)."""
    left: int
    top: int
    width: int
    height: int
    score: int
    category: int
    truncation: int
    occlusion: int


@dataclass
class ConversionSummary:
    """What a conversion kept, ignored and dropped.

    Attributes:
        images (int): Images converted.
        boxes (Counter): Boxes kept, by class name.
        ignored (Counter): Regions made crowd boxes, by official category.
        zero_size (int): Boxes dropped for a zero width or height.
        bad_lines (list[str]): ``file:line`` of malformed lines skipped.
    """
    images: int = 0
    boxes: Counter[str] = field(default_factory=collections.Counter)
    ignored: Counter[int] = field(default_factory=collections.Counter)
    zero_size: int = 0
    bad_lines: List[str] = field(default_factory=list)

    def format(self) -> str:
        """Human-readable summary, one fact per line."""
        per_class = ', '.join(f'{name} {self.boxes[name]}'
                              for name in VISDRONE_CLASSES)
        ignored = ', '.join(f'{IGNORED_CATEGORIES[c]} ({c}) {self.ignored[c]}'
                            for c in IGNORED_CATEGORIES)
        lines = [
            f'images: {self.images}',
            f'boxes: {sum(self.boxes.values())} ({per_class})',
            f'ignored as crowd boxes: {sum(self.ignored.values())} '
            f'({ignored})',
            f'zero-size boxes dropped: {self.zero_size}',
            f'malformed lines skipped: {len(self.bad_lines)}',
        ]
        lines += [f'  {where}' for where in self.bad_lines]
        return '\n'.join(lines)


def parse_line(line: str) -> VisDroneBox:
    """Parse one annotation line.

    Args:
        line (str): ``left,top,width,height,score,category,truncation,
            occlusion`` (a trailing comma, as in some official files, is
            accepted).

    Returns:
        VisDroneBox: The parsed fields.

    Raises:
        ValueError: Naming what is wrong with the line.
    """
    text = line.strip()
    if text.endswith(','):
        text = text[:-1]
    parts = text.split(',')
    if len(parts) != len(FIELDS):
        raise ValueError(f'expected {len(FIELDS)} comma-separated integers '
                         f'({",".join(FIELDS)}), got {len(parts)} fields')
    values = []
    for name, part in zip(FIELDS, parts):
        try:
            values.append(int(part.strip()))
        except ValueError:
            raise ValueError(
                f'{name} is not an integer: {part.strip()!r}') from None
    box = VisDroneBox(*values)
    if not 0 <= box.category <= 11:
        raise ValueError(f'category {box.category} is outside 0-11')
    if box.width < 0 or box.height < 0:
        raise ValueError(f'negative size {box.width}x{box.height}')
    return box


def convert_visdrone(split_dir: str,
                     skip_bad: bool = False) -> Tuple[dict, ConversionSummary]:
    """Convert one split (``images/`` and ``annotations/``) to COCO.

    Args:
        split_dir (str): A split folder, e.g.
            ``data/VisDrone2019-DET/VisDrone2019-DET-train``.
        skip_bad (bool): Skip malformed lines and count them instead of
            stopping at the first. Defaults to False.

    Returns:
        tuple[dict, ConversionSummary]: The COCO dict (``file_name``
        relative to ``images/``) and what was kept and dropped.

    Raises:
        FileNotFoundError: A folder, or an image's annotation file, is
            missing.
        VisDroneFormatError: A malformed line (file and line number), unless
            ``skip_bad``.
    """
    image_dir = Path(split_dir, 'images')
    ann_dir = Path(split_dir, 'annotations')
    for folder in (image_dir, ann_dir):
        if not folder.is_dir():
            raise FileNotFoundError(
                f'{folder} not found: a VisDrone split folder holds images/ '
                'and annotations/ (as unpacked from the official zip).')
    images = sorted(p for p in image_dir.iterdir()
                    if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise FileNotFoundError(
            f'no {"/".join(IMAGE_SUFFIXES)} images in {image_dir}.')

    coco = dict(
        images=[],
        annotations=[],
        categories=[
            dict(id=i, name=name)
            for i, name in zip(CATEGORY_IDS, VISDRONE_CLASSES)
        ])
    summary = ConversionSummary()
    progress = ProgressBar(len(images))
    for image_id, image_path in enumerate(images, start=1):
        ann_path = ann_dir / f'{image_path.stem}.txt'
        if not ann_path.is_file():
            raise FileNotFoundError(
                f'{ann_path} not found: every image in {image_dir} needs an '
                'annotation file of the same name.')
        with Image.open(image_path) as img:
            width, height = img.size
        coco['images'].append(
            dict(
                id=image_id,
                file_name=image_path.name,
                width=width,
                height=height))
        for box in read_boxes(ann_path, skip_bad, summary):
            add_box(coco['annotations'], image_id, box, summary)
        summary.images += 1
        progress.update()
    return coco, summary


def read_boxes(ann_path: Path, skip_bad: bool,
               summary: ConversionSummary) -> List[VisDroneBox]:
    """Parse an annotation file; malformed lines raise or are counted.

    Args:
        ann_path (Path): The image's ``.txt`` file.
        skip_bad (bool): Count malformed lines in ``summary`` instead of
            raising.
        summary (ConversionSummary): Receives skipped lines.

    Returns:
        list[VisDroneBox]: Boxes of the well-formed lines.
    """
    boxes = []
    with open(ann_path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                boxes.append(parse_line(line))
            except ValueError as e:
                where = f'{ann_path}:{lineno}'
                if not skip_bad:
                    raise VisDroneFormatError(
                        f'{where}: {e}: {line.rstrip()!r}. Fix the line, or '
                        'pass --skip-bad to skip and count malformed lines.'
                    ) from None
                summary.bad_lines.append(f'{where}: {e}')
    return boxes


def add_box(annotations: List[dict], image_id: int, box: VisDroneBox,
            summary: ConversionSummary) -> None:
    """Append a box's COCO annotation(s) and count it in ``summary``.

    Args:
        annotations (list[dict]): The COCO annotations so far.
        image_id (int): The image's COCO id.
        box (VisDroneBox): The parsed box.
        summary (ConversionSummary): Counts kept, ignored and dropped boxes.
    """
    if box.width == 0 or box.height == 0:
        summary.zero_size += 1
        return
    if box.category in IGNORED_CATEGORIES:
        summary.ignored[box.category] += 1
        category_ids, iscrowd = CATEGORY_IDS, 1
    else:
        summary.boxes[VISDRONE_CLASSES[box.category - 1]] += 1
        category_ids, iscrowd = (box.category, ), 0
    for category_id in category_ids:
        annotations.append(
            dict(
                id=len(annotations) + 1,
                image_id=image_id,
                category_id=category_id,
                bbox=[box.left, box.top, box.width, box.height],
                area=box.width * box.height,
                iscrowd=iscrowd))

# Copyright (c) mmema contributors. All rights reserved.
"""Install mmema: ``pip install -e .`` (the OpenMMLab stack must already be
installed; ``tools/setup_env.sh`` does it on a fresh machine)."""
import glob
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Tuple

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    """Read ``__version__`` from ``mmema/version.py`` without importing it."""
    with open(osp.join(HERE, 'mmema', 'version.py'), encoding='utf-8') as f:
        match = re.search(r"^__version__ = '([^']+)'", f.read(), re.M)
    if match is None:
        raise RuntimeError('mmema/version.py defines no __version__')
    return match.group(1)


def parse_requirements(name: str) -> List[str]:
    """Requirement lines of ``requirements/<name>.txt``, comments removed."""
    path = osp.join(HERE, 'requirements', f'{name}.txt')
    with open(path, encoding='utf-8') as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def cpu_extension() -> Tuple[list, Dict[str, type]]:
    """``mmema._ext``, EMA's fused CPU kernels (``mmema/csrc``).

    Built with torch's ``BuildExtension`` when torch is importable (install
    with ``--no-build-isolation``) and ``MMEMA_WITH_OPS`` is not ``0``. The
    extension is optional: where it does not compile (no C++ compiler), the
    install goes on with a warning and EMA runs its pure-PyTorch path.
    """
    if os.getenv('MMEMA_WITH_OPS', '1') == '0':
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        print('mmema: torch is not importable, so the fused CPU kernels are '
              'not built (install torch first, then pip install '
              '--no-build-isolation -e .)')
        return [], {}
    openmp = ['-fopenmp'] if sys.platform.startswith('linux') else []
    ext = CppExtension(
        'mmema._ext', [osp.join('mmema', 'csrc', 'ema_cpu.cpp')],
        # The headers too, so that build_ext rebuilds when only they change.
        depends=glob.glob(osp.join('mmema', 'csrc', '*.h')),
        extra_compile_args=['-O3', '-fno-wrapv', '-fno-math-errno',
                            '-fno-trapping-math'] +
        openmp,
        extra_link_args=openmp,
        optional=True)
    # Without ninja a failed compile raises distutils' CompileError, which
    # setuptools turns into a warning for optional extensions.
    return [ext], {'build_ext': BuildExtension.with_options(use_ninja=False)}


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


EXT_MODULES, CMDCLASS = cpu_extension()

setup(
    name='mmema',
    version=get_version(),
    description='EMA (Efficient Multi-Scale Attention) as an OpenMMLab '
    'plugin for mmdet and mmpretrain',
    long_description=readme(),
    long_description_content_type='text/markdown',
    author='mmema contributors',
    keywords='computer vision, attention, object detection, classification',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.8',
    license='Apache License 2.0',
    install_requires=parse_requirements('runtime'),
    extras_require={
        'mim': parse_requirements('mminstall'),
        'deploy': parse_requirements('deploy'),
        'tests': parse_requirements('tests') + parse_requirements('deploy'),
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    ext_modules=EXT_MODULES,
    cmdclass=CMDCLASS,
    zip_safe=False)

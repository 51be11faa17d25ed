# Copyright (c) mmema contributors. All rights reserved.
import os

# Tests share two cores with each other's subprocesses; one thread each keeps
# them from oversubscribing the machine.
os.environ.setdefault('OMP_NUM_THREADS', '1')

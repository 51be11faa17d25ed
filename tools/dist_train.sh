#!/usr/bin/env bash
# Copyright (c) mmema contributors. All rights reserved.
# Train on NPROC processes of this machine (one per GPU; gloo on a CPU-only
# machine) with torchrun:
#   tools/dist_train.sh CONFIG NPROC [train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. PYTHON picks the
# interpreter (default: python).
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 CONFIG NPROC [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROC" \
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "${@:3}"

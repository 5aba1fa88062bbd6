#!/usr/bin/env bash
# Cold and warm wall time of `padlab filter` on a 2048x2048 photo.
# Cold: an empty numba cache (NUMBA_CACHE_DIR points to a new directory), so the kernels compile.
# Warm: the same command five more times, with the compiled kernels on disk (median shown).
set -euo pipefail
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" - "$work/photo.png" <<'PYEOF'
import sys
import numpy as np
import padlab
photo = padlab.resize(padlab.sample_image(), (2048, 2048))
padlab.write_image(sys.argv[1], photo)
PYEOF
export NUMBA_CACHE_DIR="$work/numba-cache"
TIMEFORMAT='%R'
run() {
    { time "$PY" -m padlab.cli.main filter "$work/photo.png" -k outline -m reflect \
        -o "$work/out.png" >/dev/null 2>&1; } 2>&1
}
echo "cold: $(run) s wall"
warm=$(for _ in 1 2 3 4 5; do run; done | sort -n | tr '\n' ' ')
echo "warm (5 runs, sorted): $warm s wall; median $(echo "$warm" | cut -d' ' -f3) s"

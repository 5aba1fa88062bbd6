#!/usr/bin/env bash
# Start-up costs with an empty numba cache (NUMBA_CACHE_DIR points to a new directory):
#   1. `padlab report` on the sample photo: the first command compiles every kernel (all
#      commands, float32 and float64), with its notice and progress lines;
#   2. `padlab filter` on a 2048x2048 RGB photo right after: must not compile (no notice);
#   3. the same `padlab filter` five more times: warm wall time (median shown).
# Floors (issue 17): 1. under 30 s, 3. under 1.5 s. The machine's load is printed: on a shared
# machine the times swing by 2x or more.
#
#   bash bench/coldstart.sh                    # the padlab that $PYTHON imports
#   RUNS=2 bash bench/coldstart.sh OTHER/src   # that padlab and OTHER's, in turn, RUNS times
#
# With a checkout's src directory, both run from source (PYTHONPATH), each with its own cache,
# one after the other at every step, so that both see the machine in the same state.
set -euo pipefail
PY=${PYTHON:-python3}
RUNS=${RUNS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -gt 0 ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)/src
    sources=("$here" "$@")
else
    sources=("")  # no PYTHONPATH: the installed padlab
fi
"$PY" - "$work/photo.png" <<'PYEOF'
import sys
import numpy as np
import padlab
photo = padlab.resize(padlab.sample_image(), (2048, 2048))
padlab.write_image(sys.argv[1], photo)
PYEOF
TIMEFORMAT='%R'
label() { if [ -n "$1" ]; then echo "$1: "; fi; }
padlab_() {  # padlab_ SOURCE CACHE ARGS...: one padlab command, stderr to $work/err
    local source=$1 cache=$2
    shift 2
    if [ -n "$source" ]; then
        PYTHONPATH=$source NUMBA_CACHE_DIR=$cache "$PY" -m padlab.cli.main "$@" >/dev/null \
            2>"$work/err"
    else
        NUMBA_CACHE_DIR=$cache "$PY" -m padlab.cli.main "$@" >/dev/null 2>"$work/err"
    fi
}
filter_() {
    { time padlab_ "$1" "$2" filter "$work/photo.png" -k outline -m reflect \
        -o "$work/out.png"; } 2>&1
}
echo "load before: $(uptime | sed 's/.*load average: //')"
for run in $(seq "$RUNS"); do
    for i in "${!sources[@]}"; do
        source=${sources[$i]}
        cache="$work/numba-cache-$run-$i"
        report=$( { time padlab_ "$source" "$cache" report -o "$work/report"; } 2>&1 )
        echo "$(label "$source")cold report: $report s wall"
        grep -E '^padlab: (compiling|kernels ready)|^padlab:   .* engine, float(32|64): ' \
            "$work/err" || true
        first=$(filter_ "$source" "$cache")
        if grep -q compiling "$work/err"; then said="COMPILED"; else said="no compilation"; fi
        echo "$(label "$source")first filter after the report: $first s wall ($said)"
    done
done
for i in "${!sources[@]}"; do : >"$work/warm-$i"; done
for _ in 1 2 3 4 5; do  # warm runs, in turn, with the last run's caches
    for i in "${!sources[@]}"; do
        filter_ "${sources[$i]}" "$work/numba-cache-$RUNS-$i" >>"$work/warm-$i"
    done
done
for i in "${!sources[@]}"; do
    warm=$(sort -n "$work/warm-$i" | tr '\n' ' ')
    echo "$(label "${sources[$i]}")warm filter (5 runs, sorted): $warm s wall;" \
        "median $(echo "$warm" | cut -d' ' -f3) s"
done
echo "load after: $(uptime | sed 's/.*load average: //')"

#!/usr/bin/env bash
# One lent GPU machine, a few minutes, no internet: the offline kit's parts arrive one call at a time, and the
# work runs on while the later parts travel. Run from the repository root there, once per call:
#
#   bash scripts/gpu_session.sh first .offline/part1         # kit part (wheels), CUDA MPS, then in the
#                                                           # background: bench-search (GPU alone), the GPU tests
#   bash scripts/gpu_session.sh more .offline/partN          # each further part; prints the background's progress
#   bash scripts/gpu_session.sh run .offline/partN 540 [reproduce args]
#        # the last part, then `axx reproduce zoo --resume --jobs 6 --only 'train:*'` (or the args given) for
#        # at most 540 s, stopped with SIGINT (each training keeps its last finished epoch); the files it changed
#        # under experiments/, its log, the tests' and the bench's go to $OUT (default /tmp/out), split in
#        # 15 MiB pieces: `cat zoo.tar.* | tar xf -` here.
#   bash scripts/gpu_session.sh assess 420 [assess args]
#        # once every part is in: `axx assess` alone on the GPU (default: marlin's default levels on the zoo's
#        # approx ResNet-20, all 10,000 test images clean and under transfer PGD, 200 under adaptive PGD), timed,
#        # stopped at the limit (a rerun continues it); assess.csv/.json/.png and the log go to $OUT. Needs the
#        # kit packed with `--tables luts/marlin` (the cost model's and metrics' tables: no Yosys there).
#
# Several trainings share the GPU through CUDA MPS when the image has it (each got 1.2-2x the epochs it got
# without, on an H100). Measured with it (2026-11-27, H200, 9 min): ResNet-32 quant 25 epochs, ResNet-56 quant 5,
# and four 2-epoch fine-tunes finished, beside the GPU tests.
set -uo pipefail
REPO=$PWD
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1 CIFAR10_DIR=/tmp/cifar
[ -f /tmp/mps_on ] && export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mpslog
unpack() { python3 scripts/offline_kit.py unpack "$1" --data /tmp/cifar --site /tmp/site --luts "$REPO/luts" 2>&1 | tail -4; }
progress() { tail -c 400 /tmp/bench.log 2>/dev/null; echo; tail -2 /tmp/gputests.log 2>/dev/null; }
usage() { sed -n 2,21p "$0"; exit 2; }
case "${1:-}" in
    first|more) [ $# -ge 2 ] || usage ;;
    run) [ $# -ge 3 ] && [[ $3 =~ ^[0-9]+$ ]] || usage ;;
    assess) [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || usage ;;
    *) usage ;;
esac
case "$1" in
first)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name(0))"
    lscpu | grep 'Model name'; nproc
    unpack "$2"
    python3 -c "import cffi, pymoo, torchattacks" || { echo "the wheels are not installed yet: send the kit's part 1 first"; exit 1; }
    if command -v nvidia-cuda-mps-control >/dev/null; then
        export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mpslog
        mkdir -p /tmp/mps /tmp/mpslog
        nvidia-cuda-mps-control -d && sleep 1
        if timeout 60 python3 -c "import torch; print('MPS ok', float(torch.ones(4, device='cuda').sum()))"; then
            echo yes > /tmp/mps_on
        else
            echo quit | nvidia-cuda-mps-control; echo "MPS failed: off"; rm -f /tmp/mps_on
        fi
    fi
    # the bench first, alone on the GPU (synthetic images: the cost is the same), then the GPU tests
    setsid nohup bash -c "cd $REPO && env -u CIFAR10_DIR timeout 240 python3 -m axx.cli bench-search --evals 3 \
        --device all --json /tmp/bench_search.json > /tmp/bench.log 2>&1; echo rc=\$? >> /tmp/bench.log; \
        env -u CIFAR10_DIR timeout 600 python3 -m pytest -q -n 6 -p no:cacheprovider -rs \
        tests/emulator/test_cuda.py tests/experiments/test_train.py tests/experiments/test_attack_eval.py \
        tests/experiments/test_search.py tests/experiments/test_precision.py \
        -k 'cuda or gpu or device or augment or compiled_equals_eager or bf16 or fp32_runs' > /tmp/gputests.log 2>&1; \
        echo rc=\$? >> /tmp/gputests.log" > /dev/null 2>&1 &
    sleep 3; progress
    ;;
more)
    unpack "$2"; progress
    ;;
run)
    part=$2; deadline=$3; shift 3
    args=("$@"); [ ${#args[@]} -eq 0 ] && args=(zoo --resume --quiet --jobs 6 --only 'train:*')
    t0=$(date +%s); touch /tmp/t_run
    unpack "$part"
    ls /tmp/cifar
    setsid nohup python3 -m axx.cli reproduce "${args[@]}" > /tmp/zoo.log 2>&1 &
    zpid=$!
    while [ $(( $(date +%s) - t0 )) -lt "$deadline" ]; do
        sleep 20
        echo "--- $(( $(date +%s) - t0 )) s: $(grep -c ' epoch ' /tmp/zoo.log) epoch lines," \
             "$(grep -c finished /tmp/zoo.log) finished; tests: $(tail -1 /tmp/gputests.log 2>/dev/null | cut -c1-80)"
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
        kill -0 $zpid 2>/dev/null || break
    done
    kill -INT -- -$zpid 2>/dev/null; sleep 8; kill -KILL -- -$zpid 2>/dev/null; sleep 1
    find experiments -newer /tmp/t_run -type f | tar cf - -T - | split -b 15m - "$OUT/zoo.tar."
    cp /tmp/zoo.log /tmp/gputests.log /tmp/bench.log /tmp/bench_search.json "$OUT/" 2>/dev/null
    ls -la "$OUT"; tail -25 /tmp/gputests.log; tail -12 /tmp/bench.log; grep -i 'finished\|error\|Traceback' /tmp/zoo.log | head -30
    ;;
assess)
    deadline=$2; shift 2
    args=("$@"); [ ${#args[@]} -eq 0 ] && args=(--scheme marlin --n-images 0)
    [ -f "$REPO/luts/marlin/cost.csv" ] || { echo "luts/marlin/cost.csv is missing: pack the kit with --tables luts/marlin"; exit 1; }
    # alone on the GPU: let the background tests finish first (at most a minute), then say what else is there
    for _ in 1 2 3 4 5 6; do grep -q '^rc=' /tmp/gputests.log 2>/dev/null || [ ! -f /tmp/gputests.log ] && break; sleep 10; done
    nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv
    t0=$(date +%s)
    timeout -s INT "$deadline" python3 -m axx.cli assess "${args[@]}" --device cuda --out /tmp/assess > /tmp/assess.log 2>&1
    rc=$?
    echo "axx assess ${args[*]}: rc=$rc, $(( $(date +%s) - t0 )) s wall"
    # not the transfer set (30 MB, made again from the source model)
    mkdir -p "$OUT/assess"; (cd /tmp/assess && find . -name 'assess.*' -o -name '*.json' | tar cf - -T -) \
        | tar xf - -C "$OUT/assess"; cp /tmp/assess.log "$OUT/"
    tr '\r' '\n' < /tmp/assess.log | grep -v '^$' | tail -8
    find "$OUT/assess" -name assess.csv -exec wc -l {} \;
    ;;
esac

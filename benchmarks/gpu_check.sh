#!/usr/bin/env bash
# The GPU checks and measurements in one call of under 6 minutes (issue 13), most wanted first:
#   (1) the demo walks on cuda bf16 give the CPU's fp32 sightings (benchmarks/device_equal.py);
#       (1b) so does the west walk re-encoded to H.264 and decoded by NVDEC, its frames kept
#       on the GPU;
#   (3)+(4) a 1080p H.264 clip made here with PyAV's libx264: decode only and the whole session
#       with each decoder (opencv; pyav with 8 decoding processes a file; nvdec, its frames
#       left on the GPU), frames as YUV planes converted on the GPU, one file and four files
#       at once on one model, beside model-only eager (benchmarks/decoders.py; ViT-B/14-reg4
#       518 px bf16, eager);
#   (7) NVDEC's planes on the GPU equal to PyAV's software decode (PASS/FAIL), decode-only
#       frames/s to BGR against YUV planes, and the planes' conversion on the GPU
#       (benchmarks/yuv_decode.py); (7b) the same on a phone's portrait clip, turned upright;
#   (2) model-only and pipeline compiled, (5) 4x4 tiles at 518 px (benchmarks/throughput.py);
#   then a station of 1 and 8 live sources on one model (benchmarks/station.py, issue 14).
#   (6) last, in what the budget leaves: one file by N decode processes (benchmarks/segments.py),
#   (8) then compile modes.
#
#   bash benchmarks/gpu_check.sh fetch   # here, online: wheels the GPU machine lacks -> .whl/
#   bash benchmarks/gpu_check.sh         # on the GPU machine (device tool: carry [".whl"],
#                                        # timeout_s 360); figures on stdout and in
#                                        # ${OUT:-.}/gpu_throughput.txt
#
# The GPU machine's Python 3.12 has torch, transformers, numpy, pandas, pyarrow, OpenCV and PyAV
# (with NVDEC) but not duckdb, h3, pydantic, shapely, pyproj or tzfpy; the fetched wheels (about
# 43 MB) fill the gap. Nothing here imports the dashboard (pydeck is absent there).
# Time: every step runs under `timeout`, at most its own limit and never past BUDGET_S seconds
# from the start (330 s, so the call ends within 6 minutes); a step left with under 15 s is
# skipped and says so. Limits: device_equal 50 s, decoders 80 s, throughput 90 s and 60 s
# (were 120 s and 120 s: 768 frames and 1 round instead of 1500 and 2), station 45 s (was 100 s:
# 5 s a row instead of 10).
set -u
cd "$(dirname "$0")/.."
wheels="duckdb==2.0.1 h3==4.5.0 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
        typing-inspection==0.4.5 pyproj==3.7.2 shapely==2.2.0 tzfpy==2.1.1 paho-mqtt==2.2.0
        pillow==13.0.0"
if [ "${1:-}" = fetch ]; then
  # shellcheck disable=SC2086
  exec python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl $wheels
fi
BUDGET_S=${BUDGET_S:-330}
if ls .whl/*.whl >/dev/null 2>&1; then
  timeout 60 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/fieldtool-site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/fieldtool-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-.}/gpu_throughput.txt"

step() {  # step NAME LIMIT_S COMMAND...: at most LIMIT_S seconds and within the budget
  local name=$1 limit=$2 left started rc
  shift 2
  left=$(( BUDGET_S - SECONDS ))
  (( left < limit )) && limit=$left
  if (( limit < 15 )); then
    echo "=== $name: skipped, $(( BUDGET_S - SECONDS )) s of the budget left"
    return
  fi
  echo "=== $name (at most $limit s)"
  started=$SECONDS
  timeout -k 3 "$limit" "$@" 2>&1 | grep -v -i -e warn -e '^\s*$'
  rc=${PIPESTATUS[0]}
  if (( rc == 124 || rc == 137 )); then echo "... stopped by its time limit ($limit s)"; fi
  echo "--- $name: $(( SECONDS - started )) s, exit $rc"
}

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "
import torch, transformers, cv2
try:
    import av; pyav = 'PyAV ' + av.__version__ + ' hw ' + ','.join(av.codec.hwaccel.hwdevices_available())
except Exception as exc:
    pyav = 'PyAV: ' + repr(exc)
print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| opencv', cv2.__version__, '|', pyav)"
  step "(1) demo walks: cuda bf16 vs cpu fp32 sightings" 50 \
    python3 benchmarks/device_equal.py --device cuda --precision bf16
  step "(1b) the west walk as H.264: NVDEC, frames kept on the GPU, vs cpu fp32 sightings" 35 \
    python3 benchmarks/device_equal.py --device cuda --precision bf16 --decoder nvdec --h264 \
      --regions west
  step "(3)+(4) 1080p H.264: decoders, 1 file and 4 files, ViT-B/14-reg4 518 px bf16 eager" 80 \
    python3 benchmarks/decoders.py --arch vitb14reg4 --image-size 518 --device cuda \
      --precision bf16 --batch-size 128 --size 1920x1080 --frames 300 --files 4 \
      --decode-workers 8
  step "(7) 1080p H.264 decode only: NVDEC's planes = PyAV's; BGR vs YUV planes; YUV->RGB on cuda" 30 \
    python3 benchmarks/yuv_decode.py --frames 240 --decoders pyav nvdec --device cuda
  step "(7b) a phone's portrait clip (display matrix 90 degrees): NVDEC's planes turned = PyAV's" 15 \
    python3 benchmarks/yuv_decode.py --frames 30 --size 640x360 --rotation 90 --rounds 1 \
      --decoders pyav nvdec --device cuda
  for tiles in 1 4; do
    frames=$(( tiles == 1 ? 768 : 200 ))
    limit=$(( tiles == 1 ? 90 : 60 ))
    step "(2)/(5) ViT-B/14-reg4 518 px, tiles ${tiles}x${tiles}, bf16, compile, batch 256" "$limit" \
      python3 benchmarks/throughput.py --arch vitb14reg4 --image-size 518 \
        --device cuda --precision bf16 --compile --batch-size 256 --tiles "$tiles" \
        --frames "$frames" --rounds 1
  done
  step "station: 1 and 8 live sources, ViT-S/14 224 px, one model on cuda" 45 \
    python3 benchmarks/station.py --arch vits14 --image-size 224 --device cuda \
      --sources 1 8 --seconds 5 --camera-fps 60 --max-batch 64
  step "(6) one 1080p H.264 file decoded by 1-16 worker processes (decode only)" 40 \
    python3 benchmarks/segments.py --frames 600 --workers 1 4 8 16 --sample-fps 1000
  for mode in max-autotune-no-cudagraphs reduce-overhead; do
    step "(8) ViT-B/14-reg4 518 px, compile mode $mode (issue 13: keep what measures faster)" 60 \
      python3 benchmarks/throughput.py --arch vitb14reg4 --image-size 518 --device cuda \
        --precision bf16 --compile --compile-mode "$mode" --batch-size 256 --frames 512 --rounds 1
  done
  echo "total: $SECONDS s"
} 2>&1 | tee "$out"

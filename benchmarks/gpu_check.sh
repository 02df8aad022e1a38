#!/usr/bin/env bash
# The GPU measurements in one call of under 6 minutes: ViT-B/14-reg4 (random weights) at 518 px,
# bf16 + torch.compile, batch 256, without and with 4x4 tiles (benchmarks/throughput.py), then a
# station of 1 and 8 live sources on one model (benchmarks/station.py, issue 14).
#
#   bash benchmarks/gpu_check.sh fetch   # here, online: wheels the GPU machine lacks -> .whl/
#   bash benchmarks/gpu_check.sh         # on the GPU machine (device tool: carry [".whl"]);
#                                        # figures on stdout and in ${OUT:-.}/gpu_throughput.txt
#
# The GPU machine's Python 3.12 has torch, transformers, numpy, pandas, pyarrow and OpenCV but
# not duckdb, h3, pydantic, shapely, pyproj or tzfpy; the fetched wheels (about 43 MB) fill the gap.
# Each run stays under 6 minutes (two benchmarks of at most 120 s, one of at most 100 s).
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
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/fieldtool-site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/fieldtool-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-.}/gpu_throughput.txt"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch, transformers, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| opencv', cv2.__version__)"
  for tiles in 1 4; do
    frames=$(( tiles == 1 ? 1500 : 200 ))
    echo "=== ViT-B/14-reg4 518 px, tiles ${tiles}x${tiles}, bf16, compile, batch 256"
    timeout 120 python3 benchmarks/throughput.py --arch vitb14reg4 --image-size 518 \
      --device cuda --precision bf16 --compile --batch-size 256 --tiles "$tiles" \
      --frames "$frames" --rounds 2 2>&1 | grep -v -i warn
  done
  echo "=== station: 1 and 8 live sources, ViT-S/14 224 px, one model on cuda"
  timeout 100 python3 benchmarks/station.py --arch vits14 --image-size 224 --device cuda \
    --sources 1 8 --seconds 10 --camera-fps 60 --max-batch 64 2>&1 | grep -v -i warn
} 2>&1 | tee "$out"

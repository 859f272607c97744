#!/usr/bin/env bash
# Builds every first-party plugin and test fixture for wasm32-wasip2, and packages the
# first-party plugins signed with a local development key for the demo:
#   target/sao-dev/dev.key, target/sao-dev/trusted/dev.pub, target/sao-dev/plugins/*.sao
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --target wasm32-wasip2 \
    -p sao-plugin-dimming -p sao-plugin-air-quality -p sao-plugin-elephant -p sao-plugin-accident \
    -p sao-plugin-passengers -p sao-plugin-signage \
    -p sao-fixture-misbehave \
    -p sao-fixture-vision-probe -p sao-fixture-contract-0-1-0

target_dir="${CARGO_TARGET_DIR:-target}"
dev=target/sao-dev
mkdir -p "$dev/trusted" "$dev/plugins"
sao() { cargo run -q -p sao-runtime --bin sao -- --log warn "$@"; }
if [ ! -f "$dev/dev.key" ]; then
    sao keygen --out "$dev/dev" >/dev/null
fi
cp "$dev/dev.pub" "$dev/trusted/dev.pub"
pack() { # plugin directory, crate name, extra `sao plugin pack` arguments
    sao plugin pack --dir "plugins/$1" \
        --component "$target_dir/wasm32-wasip2/release/$2.wasm" \
        --key "$dev/dev.key" --out "$dev/plugins/$1-0.1.0.sao" "${@:3}" >/dev/null
}
pack dimming sao_plugin_dimming
pack air-quality sao_plugin_air_quality
# The detector model comes from ../shared; it is never copied into the repository.
pack elephant sao_plugin_elephant --file models/yolox_nano.onnx=../shared/models/yolox_nano.onnx
pack accident sao_plugin_accident --file models/yolox_nano.onnx=../shared/models/yolox_nano.onnx
pack signage sao_plugin_signage
pack passengers sao_plugin_passengers --file models/yolox_nano.onnx=../shared/models/yolox_nano.onnx
echo "plugins built; demo packages: $dev/plugins/{dimming,air-quality,elephant,accident,passengers,signage}-0.1.0.sao"

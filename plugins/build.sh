#!/usr/bin/env bash
# Builds every first-party plugin and test fixture for wasm32-wasip2, and packages the
# dimming plugin signed with a local development key for the demo:
#   target/sao-dev/dev.key, target/sao-dev/trusted/dev.pub, target/sao-dev/plugins/*.sao
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --target wasm32-wasip2 -p sao-plugin-dimming -p sao-fixture-misbehave

target_dir="${CARGO_TARGET_DIR:-target}"
dev=target/sao-dev
mkdir -p "$dev/trusted" "$dev/plugins"
sao() { cargo run -q -p sao-runtime --bin sao -- --log warn "$@"; }
if [ ! -f "$dev/dev.key" ]; then
    sao keygen --out "$dev/dev" >/dev/null
fi
cp "$dev/dev.pub" "$dev/trusted/dev.pub"
sao plugin pack --dir plugins/dimming \
    --component "$target_dir/wasm32-wasip2/release/sao_plugin_dimming.wasm" \
    --key "$dev/dev.key" --out "$dev/plugins/dimming-0.1.0.sao" >/dev/null
echo "plugins built; demo package: $dev/plugins/dimming-0.1.0.sao"

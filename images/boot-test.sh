#!/usr/bin/env bash
# Boots the pole image in qemu-system-aarch64 (software emulation of a 2-core Cortex-A72
# on qemu's virt machine, UEFI firmware, so GRUB boots it as on a generic arm64 box) and
# checks that the `sao` service comes up — systemd says it started only after sao's
# READY=1 — and that the pole's birth message reaches a Mosquitto broker on the host.
#
#   bash images/boot-test.sh [image]     default: builds target/images/sao-pole-arm64.img
#
# The image is provisioned as a technician does, by writing `sao/pole.toml` to a copy's
# boot partition: this pole's id, the host's broker (10.0.2.2 from inside qemu's user
# network) and simulated hardware (the virt machine has no Pi GPIO or PWM). Too slow for
# CI's 90 minutes together with the rest (the image alone takes a quarter of an hour to
# build), so it is its own command; the README says so.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-}
if [ -z "$image" ]; then
    image=target/images/sao-pole-arm64.img
    bash images/build-image.sh "$image"
fi
bash .ci/apt-install qemu-system-arm qemu-efi-aarch64 mosquitto mosquitto-clients mtools

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The host's broker, on every interface so that the guest reaches it through qemu's NAT.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
printf 'listener %s 0.0.0.0\nallow_anonymous true\nmax_queued_messages 0\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)

# A copy of the image, provisioned on its boot partition (partition 1, at 1 MiB).
cp --sparse=always "$image" "$work/disk.img"
cat > "$work/pole.toml" <<TOML
# Written by images/boot-test.sh: the image's own pole config with this pole's identity,
# the host's broker, and simulated hardware.
[pole]
site = "boot-test"
id = "qemu-01"
latitude = 13.69
longitude = 101.07
utc-offset-minutes = 420

[storage]
data-dir = "/var/lib/sao"

[trust]
keys-dir = "/etc/sao/trusted-keys"

[hardware]
backend = "sim"
lamps = [{ id = "main", rated-watts = 90.0 }]

[uplink]
broker = "mqtt://10.0.2.2:$port"

[[plugins]]
package = "/usr/share/sao/plugins/dimming-0.1.0.sao"
grants = ["log", "clock", "kv", "telemetry", "lighting"]
config = { baseline-watts-per-lamp = 150.0 }
TOML
export MTOOLS_SKIP_CHECK=1
mmd -i "$work/disk.img@@1M" ::/sao 2>/dev/null || true
mcopy -o -i "$work/disk.img@@1M" "$work/pole.toml" ::/sao/pole.toml

topic=sao/v1/boot-test/qemu-01/status
mosquitto_sub -h 127.0.0.1 -p "$port" -t "$topic" -v > "$work/status.log" &
pids+=($!)

echo "boot-test: booting $image under qemu-system-aarch64 (TCG); console in $work/console.log"
start=$(date +%s)
qemu-system-aarch64 -machine virt -cpu cortex-a72 -smp 2 -m 2048 \
    -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd \
    -drive if=none,id=disk,file="$work/disk.img",format=raw \
    -device virtio-blk-pci,drive=disk \
    -netdev user,id=net -device virtio-net-pci,netdev=net \
    -display none -monitor none -serial file:"$work/console.log" &
qemu=$!
pids+=("$qemu")

# Waits up to $2 s for the extended regex $1 in file $3; prints how long it took.
wait_for() {
    local deadline=$((start + $2))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if grep -Eq "$1" "$3"; then
            echo "boot-test: after $(($(date +%s) - start)) s: $4"
            return 0
        fi
        if ! kill -0 "$qemu" 2>/dev/null; then
            echo "boot-test: qemu exited"; break
        fi
        sleep 5
    done
    echo "boot-test: FAILED waiting for $4; the console's last lines:"
    tail -n 40 "$work/console.log" | tr -d '\r'
    return 1
}

limit=${SAO_BOOT_TEST_LIMIT_S:-1800}
wait_for 'Reached target .*Multi-User|Started .*sao.service' "$limit" "the system is up" "$work/console.log"
wait_for 'Started .*sao.service' "$limit" "systemd says sao.service started (sao sent READY=1)" "$work/console.log"
wait_for "^$topic \\{.*\"online\":true" "$limit" "the pole's birth on the host's broker" "$work/status.log"
grep -E "^$topic " "$work/status.log" | head -1
echo "boot-test: passed"

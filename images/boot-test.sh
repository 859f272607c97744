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
# CI's 90 minutes together with the rest (on 2 cores the image's Debian layer alone takes
# about half an hour to build), so it is its own command; the README says so.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-}
if [ -z "$image" ]; then
    image=target/images/sao-pole-arm64.img
    bash images/build-image.sh "$image"
fi
bash .ci/apt-install qemu-efi-aarch64 mosquitto mosquitto-clients mtools
# The same qemu as the user-mode one .ci/setup installs (Debian's packages of two qemu
# versions do not mix).
bash .ci/apt-install --backports qemu-system-arm

work=$(mktemp -d)
# What the run leaves to read afterwards: the serial console, the pole's status messages
# and the broker's log.
logs=target/images/boot-test
rm -rf "$logs" && mkdir -p "$logs" && touch "$logs/console.log"
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
mosquitto -c "$work/mosquitto.conf" > "$logs/mosquitto.log" 2>&1 &
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

# Full-system emulation is many times slower than the reference box.
[timing]
deadline-scale = 20

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
# The journal on the serial console too: sao's log and systemd's word that it started.
echo 'set extra_args="systemd.journald.forward_to_console=1"' > "$work/grub.cfg"
export MTOOLS_SKIP_CHECK=1
mmd -i "$work/disk.img@@1M" ::/sao 2>/dev/null || true
mcopy -o -i "$work/disk.img@@1M" "$work/pole.toml" "$work/grub.cfg" ::/sao/

topic=sao/v1/boot-test/qemu-01/status
mosquitto_sub -h 127.0.0.1 -p "$port" -t "$topic" -v > "$logs/status.log" &
pids+=($!)

echo "boot-test: booting $image under qemu-system-aarch64 (TCG); console in $logs/console.log"
start=$(date +%s)
qemu-system-aarch64 -machine virt -cpu cortex-a72 -smp 2 -m 2048 \
    -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd \
    -drive if=none,id=disk,file="$work/disk.img",format=raw \
    -device virtio-blk-pci,drive=disk \
    -netdev user,id=net -device virtio-net-pci,netdev=net \
    -display none -monitor none -serial file:"$logs/console.log" &
qemu=$!
pids+=("$qemu")

# Waits until $2 s after the start for the extended regex $1 in file $4, which shows that
# $3 happened; says after how long.
wait_for() {
    local deadline=$((start + $2))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if grep -Eq "$1" "$4"; then
            echo "boot-test: after $(($(date +%s) - start)) s: $3"
            return 0
        fi
        if ! kill -0 "$qemu" 2>/dev/null; then
            echo "boot-test: qemu exited"; break
        fi
        sleep 5
    done
    echo "boot-test: FAILED waiting for $3; the console's last lines:"
    tail -n 40 "$logs/console.log" | tr -d '\r'
    return 1
}

limit=${SAO_BOOT_TEST_LIMIT_S:-1800}
wait_for 'Reached target .*Multi-User|Started .*sao.service' "$limit" "the system is up" "$logs/console.log"
wait_for 'Started .*sao.service' "$limit" "systemd says sao.service started (sao sent READY=1)" "$logs/console.log"
wait_for "^$topic \\{.*\"online\":true" "$limit" "the pole's birth on the host's broker" "$logs/status.log"
grep -E "^$topic " "$logs/status.log" | head -1

# The watchdog: sao pings it from its main loop; without pings systemd kills the service
# 30 s (WatchdogSec) after it started, and starts it again.
watch_s=75
echo "boot-test: watching the service for $watch_s s"
sleep "$watch_s"
starts=$(tr -d '\r' < "$logs/console.log" | grep -ac 'systemd\[1\]: Started sao.service')
if [ "$starts" -ne 1 ] || grep -aEq 'sao.service: (Watchdog timeout|Main process exited|Failed)' "$logs/console.log"; then
    echo "boot-test: FAILED: sao.service started $starts times or was stopped; its lines:"
    tr -d '\r' < "$logs/console.log" | grep -a 'sao'
    exit 1
fi
echo "boot-test: sao.service stayed up (the watchdog saw its pings)"
echo "boot-test: passed"

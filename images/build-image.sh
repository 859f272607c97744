#!/usr/bin/env bash
# Builds the pole box's bootable disk image: Debian 12 arm64 with `sao` as a systemd
# service, its default pole config, the first-party plugins signed with the development
# (test) key, a read-only root, logs rotated on a writable /var, and two ways to boot —
# the Raspberry Pi firmware (Pi 4, CM4) and UEFI through GRUB (generic arm64 boxes, and
# qemu's virt machine, where images/boot-test.sh boots it).
#
#   bash images/build-image.sh [image]      default: target/images/sao-pole-arm64.img
#
# Partitions (MBR, which both firmwares read):
#   1  SAO-BOOT  FAT32, 256 MiB  Pi firmware, kernel, initrd, GRUB; sao/pole.toml provisions
#   2  sao-root  ext4, read-only  the system
#   3  sao-var   ext4, 1 GiB     sao's data, the journal, the clock
#
# Reproducible: every input is pinned by this repository except the Debian archive (see
# images/base-rootfs.sh); file times, filesystem ids and the disk id derive from
# SOURCE_DATE_EPOCH (default: the last commit's time).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
out=${1:-target/images/sao-pole-arm64.img}
target=aarch64-unknown-linux-gnu
work=target/images/work
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Host tools: .ci/setup's cross toolchain, qemu-user and plugins, plus the filesystem tools
# that assemble the image without mounting anything.
bash .ci/setup
bash .ci/apt-install dosfstools mtools fdisk e2fsprogs
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

# The Debian layer (cached until its recipe changes), unpacked to add sao to.
base=$(bash images/base-rootfs.sh)
sudo_if_needed rm -rf "$work"
rootfs="$work/rootfs"
mkdir -p "$rootfs"
sudo_if_needed tar --numeric-owner -xpf "$base" -C "$rootfs"

# The runtime for the box, optimised, with the Pi backend; ONNX Runtime for aarch64.
bash images/sysroot.sh
bash .ci/onnxruntime aarch64 "target/$target/onnxruntime"
(
    # shellcheck source=cross-env.sh
    . images/cross-env.sh
    cargo build --release --target "$target" -p sao-runtime --features rpi --bin sao
)
sao_bin="target/$target/release/sao"

# sao: the binary beside its ONNX Runtime (where it looks first), the plugins, the keys
# they are signed with, the service, and the image's own settings.
sudo_if_needed install -D -m 0755 "$sao_bin" "$rootfs/usr/lib/sao/sao"
sudo_if_needed ln -sf ../lib/sao/sao "$rootfs/usr/bin/sao"
sudo_if_needed install -D -m 0644 "target/$target/onnxruntime/libonnxruntime.so.1.31.1" \
    "$rootfs/usr/lib/sao/onnxruntime/libonnxruntime.so.1.31.1"
sudo_if_needed ln -sf libonnxruntime.so.1.31.1 "$rootfs/usr/lib/sao/onnxruntime/libonnxruntime.so"
sudo_if_needed install -d "$rootfs/usr/share/sao/plugins" "$rootfs/etc/sao/trusted-keys" \
    "$rootfs/etc/sao/operator-keys" "$rootfs/var/lib/sao" "$rootfs/boot/firmware"
sudo_if_needed install -m 0644 target/sao-dev/plugins/*.sao "$rootfs/usr/share/sao/plugins/"
sudo_if_needed install -m 0644 target/sao-dev/trusted/*.pub "$rootfs/etc/sao/trusted-keys/"
sudo_if_needed install -D -m 0644 README.md "$rootfs/usr/share/doc/sao/README.md"
sudo_if_needed cp -r --no-preserve=ownership images/rootfs/. "$rootfs/"
sudo_if_needed chroot "$rootfs" systemctl enable --quiet sao.service systemd-networkd.service \
    systemd-resolved.service systemd-timesyncd.service
sudo_if_needed ln -sf ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
# Each box makes its own machine id at boot (on the read-only root, a transient one).
sudo_if_needed truncate -s 0 "$rootfs/etc/machine-id"

# The boot partition: the Pi firmware with the config.txt and cmdline.txt raspi-firmware
# wrote (images/base-rootfs.sh), the kernel and initrd under fixed names, and GRUB as the
# removable-media UEFI loader with its config built in.
boot="$work/boot"
mkdir -p "$boot/EFI/BOOT"
kernel=$(basename "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -1)")
version=${kernel#vmlinuz-}
sudo_if_needed cp -r --no-preserve=ownership "$rootfs/boot/firmware/." "$boot/"
sudo_if_needed cp "$rootfs/boot/vmlinuz-$version" "$boot/vmlinuz"
sudo_if_needed cp "$rootfs/boot/initrd.img-$version" "$boot/initrd.img"
sudo_if_needed cp images/boot/grub.cfg "$rootfs/tmp/grub.cfg"
sudo_if_needed chroot "$rootfs" grub-mkstandalone --format=arm64-efi \
    --output=/tmp/BOOTAA64.EFI --modules="part_msdos fat ext2 search_label test configfile linux gzio" \
    "boot/grub/grub.cfg=/tmp/grub.cfg"
sudo_if_needed mv "$rootfs/tmp/BOOTAA64.EFI" "$boot/EFI/BOOT/BOOTAA64.EFI"
sudo_if_needed rm -f "$rootfs/tmp/grub.cfg"
sudo_if_needed rm -rf "$rootfs/boot/firmware" && sudo_if_needed mkdir "$rootfs/boot/firmware"

# /var goes to its own partition; the root keeps the mount point.
sudo_if_needed mv "$rootfs/var" "$work/var"
sudo_if_needed mkdir "$rootfs/var"

# Filesystems, made from the trees without mounting them, with fixed ids and times.
uuid() { printf '%s' "$1-$SOURCE_DATE_EPOCH" | sha256sum |
    sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/'; }
sudo_if_needed find "$boot" "$rootfs" "$work/var" -xdev -newermt "@$SOURCE_DATE_EPOCH" \
    -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
root_mib=$(( $(sudo_if_needed du -sm "$rootfs" | cut -f1) * 5 / 4 + 256 ))
var_mib=1024
boot_mib=256
sudo_if_needed mkfs.ext4 -q -F -L sao-root -U "$(uuid root)" -E "hash_seed=$(uuid root-hash)" \
    -d "$rootfs" "$work/root.img" "${root_mib}M"
sudo_if_needed mkfs.ext4 -q -F -L sao-var -U "$(uuid var)" -E "hash_seed=$(uuid var-hash)" \
    -d "$work/var" "$work/var.img" "${var_mib}M"
rm -f "$work/boot.img"
mkfs.vfat -F 32 -n SAO-BOOT -i "$(printf '%08x' "$((SOURCE_DATE_EPOCH & 0xffffffff))")" \
    --invariant -C "$work/boot.img" $((boot_mib * 1024)) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -p -m -i "$work/boot.img" "$boot"/* ::/

# The disk: 1 MiB of partition table, then the three filesystems.
mkdir -p "$(dirname "$out")"
rm -f "$out"
total_mib=$((1 + boot_mib + root_mib + var_mib))
truncate -s "${total_mib}M" "$out"
sfdisk --quiet "$out" <<TABLE
label: dos
label-id: 0x$(printf '%08x' "$((SOURCE_DATE_EPOCH & 0xffffffff))")
start=1MiB, size=${boot_mib}MiB, type=c, bootable
size=${root_mib}MiB, type=83
size=${var_mib}MiB, type=83
TABLE
offset=1
for part in boot root var; do
    dd if="$work/$part.img" of="$out" bs=1M seek="$offset" conv=notrunc,sparse status=none
    offset=$((offset + $(stat -c %s "$work/$part.img") / 1048576))
done
sudo_if_needed rm -rf "$work"
echo "image: $out ($total_mib MiB; sao at $(git rev-parse --short HEAD), kernel $version)"

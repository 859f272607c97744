#!/usr/bin/env bash
# Builds the arm64 Debian 12 root filesystem that aarch64 builds link against (OpenCV and
# its dependencies) and that the aarch64 tests run on under qemu-user.
#
#   bash images/sysroot.sh [dir]      default: target/aarch64-sysroot
#
# Multiarch `libopencv-dev:arm64` cannot sit beside the amd64 one, so the arm64 libraries live
# in their own tree, made by mmdebstrap; its maintainer scripts run under qemu-user through
# binfmt_misc. Idempotent: an existing, complete tree is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/aarch64-sysroot}

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The packages the sysroot's users need: the OpenCV headers and libraries to link the
# runtime, and the C++ runtime the ONNX Runtime library loads.
packages=libopencv-dev,libstdc++6

if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$packages" ]; then
    exit 0
fi

# Running arm64 programs: the kernel hands them to qemu-aarch64-static through binfmt_misc.
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    sudo_if_needed mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    sudo_if_needed update-binfmts --enable qemu-aarch64
fi

echo "sysroot: building an arm64 Debian 12 tree in $dir (a few minutes)"
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
sudo_if_needed mmdebstrap --quiet --arch=arm64 --variant=apt --include="$packages" \
    bookworm "$dir" http://deb.debian.org/debian
# Debian's alternatives (BLAS, LAPACK) are absolute symlinks into /etc/alternatives, which
# neither the linker's --sysroot nor qemu-user's -L prefix follow; make them relative.
sudo_if_needed find "$dir" -xdev -type l -lname '/*' -print0 |
    while IFS= read -r -d '' link; do
        target=$(readlink "$link")
        sudo_if_needed ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir$target")" "$link"
    done
sudo_if_needed chown -R "$(id -u):$(id -g)" "$dir"
echo "$packages" > "$dir/.complete"

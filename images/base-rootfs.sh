#!/usr/bin/env bash
# Builds the Debian 12 arm64 layer of the pole image — systemd, the kernel, the Raspberry
# Pi firmware, GRUB, the runtime libraries sao links (OpenCV) and GStreamer for cameras —
# as a tarball, kept until this recipe changes (the file name carries its hash). The
# package scripts run under qemu-user through binfmt_misc, so this takes a while.
#
#   bash images/base-rootfs.sh        prints the tarball's path
#
# Everything is pinned by this file except the Debian archive, read from
# SAO_DEBIAN_MIRROR (default deb.debian.org); point it at a snapshot.debian.org URL to
# rebuild bit for bit. Timestamps come from SOURCE_DATE_EPOCH (default: the last commit).
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
mirror=${SAO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

# e2fsprogs and dosfstools check the filesystems at boot (poles lose power); zstd is the
# initramfs compression initramfs-tools asks for.
packages=(
    systemd-sysv systemd-resolved systemd-timesyncd udev kmod dbus e2fsprogs dosfstools
    linux-image-arm64 initramfs-tools zstd raspi-firmware grub-efi-arm64-bin
    ca-certificates iproute2 less
    libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 libopencv-videoio406
    libopencv-video406 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav
)
# raspi-firmware's kernel hook writes config.txt and cmdline.txt (root by label) into
# /boot/firmware, and refuses unless that is a mount point: a bind mount of itself.
# The initramfs is made once, at the end, not at every kernel or trigger: under emulation
# each run takes minutes (dpkg keeps the setting's file rather than asking about it).
hooks=(
    --dpkgopt=force-confdef --dpkgopt=force-confold
    --essential-hook='mkdir -p "$1/etc/default" "$1/boot/firmware" "$1/etc/initramfs-tools"'
    --essential-hook='echo "update_initramfs=no" > "$1/etc/initramfs-tools/update-initramfs.conf"'
    --essential-hook='echo "ROOTPART=LABEL=sao-root" > "$1/etc/default/raspi-firmware"'
    --essential-hook='mount --bind "$1/boot/firmware" "$1/boot/firmware"'
    --customize-hook='echo "update_initramfs=yes" > "$1/etc/initramfs-tools/update-initramfs.conf"'
    --customize-hook='chroot "$1" update-initramfs -c -k all'
    --customize-hook='chroot "$1" sh -c "DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware"'
    --customize-hook='umount "$1/boot/firmware"'
)
recipe=$(printf '%s\n' "${packages[@]}" "${hooks[@]}" "$mirror" | sha256sum | cut -c1-12)
tarball=target/images/base-rootfs-$recipe.tar
if [ ! -f "$tarball" ]; then
    bash images/sysroot.sh >/dev/null   # binfmt_misc set up for arm64
    echo "base-rootfs: building the Debian arm64 layer (about half an hour on 2 cores)" >&2
    mkdir -p target/images
    sudo_if_needed mmdebstrap --arch=arm64 --variant=apt --format=tar \
        --components=main,non-free-firmware \
        --include="$(IFS=,; echo "${packages[*]}")" "${hooks[@]}" \
        bookworm "$tarball.partial" "$mirror" >&2
    mv "$tarball.partial" "$tarball"
fi
echo "$tarball"

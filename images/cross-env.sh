# Sourced, not run: sets up cargo to build for aarch64-unknown-linux-gnu against the arm64
# tree images/sysroot.sh makes, and to run what it builds under qemu-user.
#
#   . images/cross-env.sh [sysroot]      default: target/aarch64-sysroot
#
# The C/C++ parts (OpenCV's bindings, ring, zstd, …) build with Debian's aarch64 cross
# toolchain and the sysroot's headers; the OpenCV binding generator runs clang, which must
# be told the target too or it mixes in the host's headers. Test binaries and `cargo run`
# go through qemu-aarch64 with the sysroot as the library prefix.

sao_sysroot=$(realpath "${1:-target/aarch64-sysroot}")
sao_multiarch="$sao_sysroot/usr/lib/aarch64-linux-gnu"
sao_cross_bin="$(dirname "$sao_sysroot")/aarch64-cross-bin"
mkdir -p "$sao_cross_bin"
# clang as the OpenCV binding generator calls it: for the board, against the sysroot.
printf '#!/bin/sh\nexec clang --target=aarch64-linux-gnu --sysroot=%s "$@"\n' "$sao_sysroot" \
    > "$sao_cross_bin/clang"
chmod +x "$sao_cross_bin/clang"

export CLANG_PATH="$sao_cross_bin/clang"
export OPENCV_CLANG_ARGS="--target=aarch64-linux-gnu --sysroot=$sao_sysroot"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export CFLAGS_aarch64_unknown_linux_gnu="--sysroot=$sao_sysroot"
export CXXFLAGS_aarch64_unknown_linux_gnu="--sysroot=$sao_sysroot"
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_SYSROOT_DIR="$sao_sysroot"
export PKG_CONFIG_LIBDIR="$sao_multiarch/pkgconfig:$sao_sysroot/usr/share/pkgconfig"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# OpenCV's libraries pull in BLAS and LAPACK from their own directories.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=--sysroot=$sao_sysroot -C link-arg=-Wl,-rpath-link,$sao_multiarch:$sao_multiarch/lapack:$sao_multiarch/blas"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L $sao_sysroot"
# Programs the tests start (the pole itself) run through binfmt_misc: same prefix.
export QEMU_LD_PREFIX="$sao_sysroot"
unset sao_sysroot sao_multiarch sao_cross_bin

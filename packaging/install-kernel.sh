#!/bin/sh
# meson install script: the guest kernel that kernel/build.sh put in
# BUILD/kernel (links into its cache; the files themselves are copied) goes
# to DESTDIR/PREFIX/$1. Configure with -Dinstall_kernel=false to leave it out.
set -eu
src=$MESON_BUILD_ROOT/kernel
dest=$MESON_INSTALL_DESTDIR_PREFIX/$1
for f in bzImage vmlinux; do
  if [ ! -f "$src/$f" ]; then
    echo "install-kernel: $src/$f not found: build the kernel first (make, or kernel/build.sh --out $src), or configure with -Dinstall_kernel=false" >&2
    exit 1
  fi
done
if [ -n "${MESON_INSTALL_DRY_RUN:-}" ]; then
  echo "Would install the kernel ($src/bzImage, vmlinux) to $dest"
  exit 0
fi
echo "Installing the kernel ($src/bzImage, vmlinux) to $dest"
install -d "$dest"
install -m 644 "$src/bzImage" "$src/vmlinux" "$dest/"

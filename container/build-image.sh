#!/usr/bin/env bash
# Builds the stand-in for the Lambda python3.12 image that `sam local invoke --invoke-image` runs,
# from Debian packages and PyPI only (no container registry is needed):
#
#   * a Debian bookworm rootfs (debootstrap --variant=minbase, from the mirror apt already uses) with
#     the shared libraries CPython needs (libssl3, libsqlite3-0, libffi8, libexpat1, ...);
#   * the CPython 3.12 interpreter from pyenv, copied to /var/lang as on Lambda;
#   * awslambdaric and the boto3 the managed runtime ships, in /var/runtime;
#   * /var/runtime/bootstrap (container/bootstrap), which SAM's emulator starts.
#
# The image tag is derived from a hash of the recipe (this script and container/bootstrap), so the
# image is built once and rebuilt only when the recipe changes. The root filesystem is cached as a tar
# file under $BLUEGREEN_IMAGE_CACHE (default ~/.cache/bluegreen-rotation): a fresh Docker engine
# imports it in a few seconds instead of building it again.
#
# Usage:  container/build-image.sh             build (or reuse) the image, print its tag on stdout
#         container/build-image.sh --print-tag  print the tag only, touch nothing
# Needs:  root, debootstrap, docker CLI with DOCKER_HOST pointing at a running engine,
#         PYTHON312 (default: pyenv's 3.12.1) to copy in.
# Env:    DEBIAN_MIRROR overrides the mirror read from the apt sources.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python_version="3.12.1"
awslambdaric_version="4.2.2"
boto3_version="1.44.8"
suite="bookworm"
libraries="libssl3,libsqlite3-0,libffi8,libexpat1,libbz2-1.0,liblzma5,libreadline8,zlib1g,libuuid1,ca-certificates,tzdata"

recipe_hash="$(cd "$here" && cat build-image.sh bootstrap | sha256sum | cut -c1-12)"
tag="bluegreen-lambda-python:3.12-${recipe_hash}"

if [[ "${1:-}" == "--print-tag" ]]; then
  echo "$tag"
  exit 0
fi

log() { echo "build-image: $*" >&2; }

python_prefix="${PYTHON312:-${PYENV_ROOT:-$HOME/.pyenv}/versions/${python_version}}"
cache="${BLUEGREEN_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-rotation}"
tarball="$cache/lambda-python3.12-${recipe_hash}.tar"

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "image $tag already present"
  echo "$tag"
  exit 0
fi

# The Debian mirror apt is configured with (never written down here: read from the apt sources).
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local files=()
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  local mirror="" f
  for f in "${files[@]}"; do
    if [[ "$f" == *.sources ]]; then
      # deb822: paragraphs of "Field: value" lines; a trailing blank line closes the last one.
      mirror="$({ cat "$f"; echo; } | awk -v suite="$suite" '
        /^[ \t]*$/ {
          if ((" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ")) { split(uris, u, " "); print u[1]; exit }
          types = ""; uris = ""; suites = ""; next
        }
        $1 == "Types:" { $1 = ""; types = $0 }
        $1 == "URIs:" { $1 = ""; uris = $0 }
        $1 == "Suites:" { $1 = ""; suites = $0 }
      ')"
    else
      # One-line format: deb [options] URI SUITE COMPONENTS...
      mirror="$(awk -v suite="$suite" '
        $1 == "deb" {
          i = 2
          if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
          if ($(i + 1) == suite) { print $i; exit }
        }
      ' "$f")"
    fi
    [[ -n "$mirror" ]] && break
  done
  if [[ -z "$mirror" ]]; then
    log "no '$suite' deb source found in the apt sources; set DEBIAN_MIRROR"
    exit 1
  fi
  echo "$mirror"
}

unmount_below() {
  local target
  { findmnt -R -n -o TARGET --list "$1" 2>/dev/null || true; } | sort -r | while read -r target; do
    umount -l "$target" || true
  done
}

build_rootfs() {
  local work root start
  start=$SECONDS
  work="$(mktemp -d "$cache/build.XXXXXX")"
  root="$work/root"
  # Whatever happens, leave no mounts (debootstrap mounts /proc and /sys in the target) and no
  # half-built tree behind.
  # shellcheck disable=SC2064
  trap "unmount_below '$root'; rm -rf '$work'" EXIT

  local mirror
  mirror="$(debian_mirror)"
  log "debootstrap $suite (minbase + CPython's libraries)"
  if ! debootstrap --variant=minbase --include="$libraries" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  fi
  log "  rootfs ready after $((SECONDS - start)) s"

  log "copying CPython from $python_prefix to /var/lang"
  [[ -x "$python_prefix/bin/python3.12" ]] || { log "no CPython 3.12 at $python_prefix (pyenv install $python_version)"; exit 1; }
  mkdir -p "$root/var/lang" "$root/var/runtime" "$root/var/task" "$root/opt"
  tar -C "$python_prefix" -c \
    --exclude='./lib/python3.12/test' --exclude='./lib/python3.12/idlelib' \
    --exclude='./lib/python3.12/tkinter' --exclude='./lib/python3.12/turtledemo' \
    --exclude='./lib/python3.12/ensurepip' --exclude='./lib/python3.12/config-3.12-*' \
    --exclude='./lib/python3.12/site-packages/*' --exclude='./include' --exclude='./share' \
    --exclude='./lib/pkgconfig' --exclude='./lib/*.a' \
    . | tar -C "$root/var/lang" -x
  # pyenv's interpreter has its build prefix as RUNPATH; the loader falls back to ld.so.cache.
  echo /var/lang/lib >"$root/etc/ld.so.conf.d/var-lang.conf"
  chroot "$root" /sbin/ldconfig
  ln -sf /var/lang/bin/python3.12 "$root/usr/local/bin/python3"
  ln -sf /var/lang/bin/python3.12 "$root/usr/local/bin/python"

  log "installing awslambdaric==$awslambdaric_version boto3==$boto3_version into /var/runtime"
  "$python_prefix/bin/python3.12" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --no-compile --only-binary=:all: --target "$root/var/runtime" \
    "awslambdaric==$awslambdaric_version" "boto3==$boto3_version" 2> >(grep -v "^WARNING" >&2)
  rm -rf "$root/var/runtime/bin"
  install -m 0755 "$here/bootstrap" "$root/var/runtime/bootstrap"

  log "checking the interpreter inside the rootfs"
  chroot "$root" /usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin PYTHONPATH=/var/runtime \
    /var/lang/bin/python3.12 -c 'import ssl, sqlite3, ctypes, bz2, lzma, readline, zlib, pyexpat, uuid, awslambdaric, boto3, runtime_client'

  # Lambda's sandbox user and a writable /tmp; trim what a runtime never reads.
  chroot "$root" /usr/sbin/groupadd -g 993 sbx_user1051 2>/dev/null || true
  chroot "$root" /usr/sbin/useradd -u 993 -g 993 -M -d /tmp -s /usr/sbin/nologin sbx_user1051 2>/dev/null || true
  rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
    "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/var/log/"*
  chmod 1777 "$root/tmp"

  log "writing $tarball"
  unmount_below "$root"
  tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  rm -rf "$work"
  trap - EXIT
  log "rootfs built in $((SECONDS - start)) s"
}

mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
start=$SECONDS
if [[ -s "$tarball" ]]; then
  log "reusing cached rootfs $tarball"
else
  # Older recipes' tar files are of no further use.
  find "$cache" -maxdepth 1 -name 'lambda-python3.12-*.tar' ! -name "$(basename "$tarball")" -delete
  build_rootfs
fi

log "docker import as $tag"
docker import \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin' \
  --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
  --message "bluegreen-rotation stand-in for the Lambda python3.12 image (recipe $recipe_hash)" \
  "$tarball" "$tag" >/dev/null
log "image $tag ready in $((SECONDS - start)) s"
echo "$tag"

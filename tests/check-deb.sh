#!/bin/sh
# check-deb.sh PACKAGE.deb (make check-deb, part of make check): the package
# built by scripts/build-deb installs with dpkg into a scratch root, holds
# what it should, its he-run finds its libhe.so and its he-history, its man
# pages render, it removes cleanly; then the CI examples' steps
# (examples/ci/failover-check.sh) run against the installed package and
# against the build tree, and the examples still call those steps.
set -eu
[ $# -eq 1 ] || { echo "usage: check-deb.sh PACKAGE.deb" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
deb=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail=0
unset HE_RUN # the examples find he-run on PATH
bad() { echo "FAIL deb: $*"; fail=1; }

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || ${CC:-cc} -print-multiarch)
libdir=/usr/lib/$multiarch/libhe
version=$(dpkg-deb -f "$deb" Version)

# dpkg into the scratch root: its own database; libc6 and libc-ares2 are the
# host's, not the root's (--force-depends); no maintainer scripts to run.
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
: > "$root/var/lib/dpkg/status"
: > "$root/var/lib/dpkg/available"
dpkg_root() {
    dpkg --root="$root" --force-not-root --force-script-chrootless --force-depends \
        --log=/dev/null "$@"
}
dpkg_root -i "$deb" >"$root/dpkg.out" 2>&1 || { cat "$root/dpkg.out"; bad "dpkg -i"; }
dpkg_root -s libhe 2>/dev/null | grep -q '^Status: install ok installed' || bad "not installed"

for f in usr/bin/he-run usr/bin/he-history "${libdir#/}/libhe.so" \
    usr/share/man/man1/he-run.1.gz usr/share/man/man1/he-history.1.gz \
    usr/share/man/man7/libhe.7.gz usr/share/doc/libhe/copyright; do
    [ -e "$root/$f" ] || bad "$f missing"
done
[ -f "$root/usr/share/doc/libhe/changelog.gz" ] || [ -f "$root/usr/share/doc/libhe/changelog.Debian.gz" ] ||
    bad "no changelog"
# he-lab and its page when the tree has them.
[ ! -f "$top/scripts/he-lab" ] || [ -x "$root/usr/bin/he-lab" ] || bad "he-lab missing"
[ ! -f "$top/man/he-lab.1" ] || [ -f "$root/usr/share/man/man1/he-lab.1.gz" ] || bad "he-lab.1 missing"
[ ! -x "$root/usr/bin/he-lab" ] || "$root/usr/bin/he-lab" --version | grep -qx "he-lab (libhe) $version" ||
    bad "he-lab --version"

# he-run looks where the package put the library.
grep -q "^LIBDIR=\"$libdir\"\$" "$root/usr/bin/he-run" || bad "he-run's LIBDIR is not $libdir"
"$root/usr/bin/he-run" --version | grep -qx "he-run (libhe) $version" || bad "he-run --version"
# The root is not /, so HE_RUN_LIB points he-run at the root's library.
lib=$root$libdir/libhe.so
export HE_RUN_LIB="$lib"
# shellcheck disable=SC2016 # expanded by the inner sh
preload=$("$root/usr/bin/he-run" sh -c 'echo "$LD_PRELOAD"')
[ "$preload" = "$lib" ] || bad "he-run preloads '$preload'"
if ldd "$lib" | grep -q 'not found'; then bad "libhe.so: $(ldd "$lib" | grep 'not found')"; fi
hist=$(HE_HISTORY_FILE="$root/h/history" "$root/usr/bin/he-run" --history 2>&1) || true
case $hist in
*"no history yet"*) ;;
*) bad "he-run --history said '$hist'" ;;
esac
if command -v man >/dev/null 2>&1; then
    for page in "$root"/usr/share/man/man*/*.gz; do
        man -l "$page" >/dev/null 2>&1 || bad "$page does not render"
    done
fi

# The CI examples.  Their make commands must name real targets (make -n);
# their check steps, the lines that run examples/ci/, run here as written,
# with the scratch root's he-run first on PATH; then the same script against
# the build tree.
steps=$(grep -h -E '^[[:space:]]*(- |run: )?(make |examples/ci/)' \
    "$top/examples/ci/github-actions.yml" "$top/examples/ci/gitlab-ci.yml" |
    sed -E 's/^[[:space:]]*(- |run: )?//')
for y in github-actions.yml gitlab-ci.yml; do
    grep -q 'examples/ci/failover-check.sh' "$top/examples/ci/$y" || bad "$y does not run failover-check.sh"
    # The YAML parses, when python3 has a YAML parser.
    if python3 -c 'import yaml' 2>/dev/null; then
        python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$top/examples/ci/$y" ||
            bad "$y does not parse"
    fi
done
n=0
printf '%s\n' "$steps" > "$root/steps"
while IFS= read -r step; do
    case $step in
    make\ *)
        # shellcheck disable=SC2086
        MAKEFLAGS='' make -s -n -C "$top" ${step#make } >/dev/null 2>&1 || bad "examples/ci: '$step' fails (make -n)" ;;
    examples/ci/*)
        n=$((n + 1))
        (cd "$top" && PATH="$root/usr/bin:$PATH" sh -c "$step") >"$root/ex.out" 2>&1 ||
            { cat "$root/ex.out"; bad "examples/ci: '$step' with the package"; } ;;
    esac
done < "$root/steps"
[ $n -ge 2 ] || bad "examples/ci: $n check steps found, expected one per example"
unset HE_RUN_LIB
HE_RUN="$top/scripts/he-run" "$top/examples/ci/failover-check.sh" >"$root/ex.out" 2>&1 ||
    { cat "$root/ex.out"; bad "examples/ci/failover-check.sh with the build tree"; }

# Removal leaves nothing of the package behind.
dpkg_root --purge libhe >"$root/dpkg.out" 2>&1 || { cat "$root/dpkg.out"; bad "dpkg --purge"; }
left=$(find "$root/usr" -type f 2>/dev/null | head -3)
[ -z "$left" ] || bad "left after purge: $left"

[ $fail -eq 0 ] && echo "deb: 1 passed, 0 failed ($(basename "$deb"); examples/ci: $n steps with the package, 1 with the build tree)"
exit $fail

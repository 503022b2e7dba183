#!/bin/sh
# make install into a staging DESTDIR: the files land where PREFIX says, the
# installed he-run finds the installed library, and the man pages render.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make -s -C "$top" install PREFIX=/opt/he DESTDIR="$stage" >/dev/null
fail=0
for f in lib/libhe.so bin/he-run bin/he-history share/man/man1/he-run.1 share/man/man7/libhe.7; do
    [ -f "$stage/opt/he/$f" ] || { echo "FAIL install: $f missing"; fail=1; }
done
# he-lab and its page, when the tree has them, substituted as he-run is.
if [ -f "$top/scripts/he-lab" ]; then
    [ -x "$stage/opt/he/bin/he-lab" ] || { echo "FAIL install: bin/he-lab missing"; fail=1; }
    ! grep -q '@VERSION@\|@LIBDIR@' "$stage/opt/he/bin/he-lab" 2>/dev/null ||
        { echo "FAIL install: bin/he-lab not substituted"; fail=1; }
fi
[ ! -f "$top/man/he-lab.1" ] || [ -f "$stage/opt/he/share/man/man1/he-lab.1" ] ||
    { echo "FAIL install: share/man/man1/he-lab.1 missing"; fail=1; }
preload=$("$stage/opt/he/bin/he-run" sh -c 'echo "$LD_PRELOAD"')
[ "$preload" = "$stage/opt/he/lib/libhe.so" ] || { echo "FAIL install: he-run preloads '$preload'"; fail=1; }
"$stage/opt/he/bin/he-run" --version | grep -q "^he-run (libhe) [0-9]" ||
    { echo "FAIL install: --version"; fail=1; }
# he-run --history finds the installed he-history, which reads the file
# HE_HISTORY_FILE names (none yet here).
hist=$(HE_HISTORY_FILE="$stage/h/history" "$stage/opt/he/bin/he-run" --history 2>&1) || true
case $hist in
*"no history yet"*) ;;
*) echo "FAIL install: he-run --history said '$hist'"; fail=1 ;;
esac
for page in "$stage/opt/he/share/man/man1/he-run.1" "$stage/opt/he/share/man/man7/libhe.7"; do
    if command -v man >/dev/null 2>&1; then
        man -l "$page" >/dev/null 2>&1 || { echo "FAIL install: $page does not render"; fail=1; }
    fi
done
[ $fail -eq 0 ] && echo "install: 1 passed, 0 failed"
exit $fail

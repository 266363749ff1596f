#!/usr/bin/env bash
# test_ctl_install.sh -- install the build into a temporary prefix and
# build examples/submit.c against it, once through find_package(rhai)
# (examples/CMakeLists.txt) and once through pkg-config (its paths must be
# the temporary prefix's, not the configure-time one), then run both
# binaries against a closed port: they must link, load and fail cleanly.
#   bash test_ctl_install.sh BUILD_DIR SOURCE_DIR [SANITIZE_FLAGS]
# SANITIZE_FLAGS ("-fsanitize=address,undefined") must match the build's,
# since a sanitized librhai-client needs a sanitized program.
set -u
BUILD=${1:?usage: test_ctl_install.sh BUILD_DIR SOURCE_DIR [SANITIZE_FLAGS]}
SRC=${2:?usage: test_ctl_install.sh BUILD_DIR SOURCE_DIR [SANITIZE_FLAGS]}
SAN=${3:-}
. "$(dirname "$0")/../support/lib.sh"
work_dir
STAGE=$WORK/stage

timeout 120 cmake --install "$BUILD" --prefix "$STAGE" >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log"; die "cmake --install failed"; }
for f in include/rhai/rhai.h include/rhai/client.h include/rhai/version.h bin/rhaictl bin/rhaid \
         bin/rhai-executor lib/systemd/system/rhaid@.service lib/sysusers.d/rhaid.conf \
         share/doc/rhailib/examples/rhaid.conf share/doc/rhailib/examples/rhaid.env \
         bin/rhai-web lib/systemd/system/rhai-web.service share/doc/rhailib/examples/rhai-web.conf \
         share/doc/rhailib/web.md; do
    [ -e "$STAGE/$f" ] || die "$f not installed"
done
# The unit starts the rhaid of this prefix, not the configure-time one's
# (installed with --prefix, a unit naming /usr/local/bin/rhaid fails to start).
grep -qx "ExecStart=$STAGE/bin/rhaid --worker-id %i --data-dir \${STATE_DIRECTORY}" \
    "$STAGE/lib/systemd/system/rhaid@.service" ||
    die "installed unit: $(grep ^ExecStart= "$STAGE/lib/systemd/system/rhaid@.service"), not $STAGE/bin/rhaid"
grep -qx "ExecStart=$STAGE/bin/rhai-web --config /etc/rhai-web/rhai-web.conf" \
    "$STAGE/lib/systemd/system/rhai-web.service" ||
    die "installed rhai-web unit: $(grep ^ExecStart= "$STAGE/lib/systemd/system/rhai-web.service")"
CFG=$(find "$STAGE" -name rhaiConfig.cmake | head -1)
[ -n "$CFG" ] || die "rhaiConfig.cmake not installed"
PC=$(find "$STAGE" -name rhai-client.pc | head -1)
[ -n "$PC" ] || die "rhai-client.pc not installed"

# 1. CMake package.
timeout 120 cmake -S "$SRC/examples" -B "$WORK/cm" -DCMAKE_PREFIX_PATH="$STAGE" \
    -DCMAKE_C_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="$SAN" >"$WORK/cm.log" 2>&1 &&
timeout 120 cmake --build "$WORK/cm" >>"$WORK/cm.log" 2>&1 ||
    { cat "$WORK/cm.log"; die "examples/ did not build with find_package(rhai)"; }

# 2. pkg-config, as installed: the .pc finds its prefix from where it
# lies (${pcfiledir}), so a `cmake --install --prefix` other than the
# configure-time prefix, or a tree moved after installing, still gives
# this prefix's paths.
PCDIR=$(dirname "$PC")
pcvar() { PKG_CONFIG_PATH=$1 pkg-config --variable="$2" rhai-client; }
same_dir() { [ -n "$1" ] && [ -d "$1" ] && [ "$(cd "$1" && pwd -P)" = "$(cd "$2" && pwd -P)" ]; }
LIBDIR=$(pcvar "$PCDIR" libdir)
same_dir "$LIBDIR" "$(dirname "$PCDIR")" || die "pkg-config libdir '$LIBDIR' is not the installed lib dir"
same_dir "$(pcvar "$PCDIR" includedir)" "$STAGE/include" ||
    die "pkg-config includedir '$(pcvar "$PCDIR" includedir)' is not $STAGE/include"
same_dir "$(pcvar "$PCDIR" prefix)" "$STAGE" || die "pkg-config prefix is not $STAGE"
# shellcheck disable=SC2046,SC2086
cc -std=gnu11 -Wall -Wextra -Werror $SAN "$SRC/examples/submit.c" -o "$WORK/submit-pc" \
    $(PKG_CONFIG_PATH=$PCDIR pkg-config --cflags --libs rhai-client) \
    -Wl,-rpath,"$LIBDIR" >"$WORK/pc.log" 2>&1 ||
    { cat "$WORK/pc.log"; die "examples/submit.c did not build with pkg-config"; }
# the same tree moved elsewhere
mv "$STAGE" "$WORK/moved"
MPC=$WORK/moved/${PC#"$STAGE"/}
same_dir "$(pcvar "$(dirname "$MPC")" includedir)" "$WORK/moved/include" ||
    die "after a move, pkg-config includedir is '$(pcvar "$(dirname "$MPC")" includedir)'"
mv "$WORK/moved" "$STAGE"

# Both run, connect to a port nobody listens on, and say so (exit 1).
PORT=$(free_port) || die "no free port"
for b in "$WORK/cm/submit" "$WORK/submit-pc"; do
    timeout 20 "$b" "redis://127.0.0.1:$PORT" >"$WORK/run.out" 2>"$WORK/run.err"
    rc=$?
    [ "$rc" = 1 ] || { cat "$WORK/run.err"; die "$(basename "$b") exited $rc, expected 1"; }
    grep -q 'RHAI_ECONN' "$WORK/run.err" ||
        { cat "$WORK/run.err"; die "$(basename "$b") did not report RHAI_ECONN"; }
done
echo "test_ctl_install: installed, built examples/ both ways, ran both"

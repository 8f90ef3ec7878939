#!/usr/bin/env bash
# A 1 GiB upload over loopback with `unstuck send`, next to a raw `socat` pipe of the same
# file to a file, in the same run, and the server's peak RSS. Needs socat. From the
# workspace root:
#
#   cargo build --release -p unstuck-std && runtime-std/bench/loopback-upload.sh
#
# The two alternate RUNS times (default 3); each line is one run, then the best of each.
# SIZE_MIB=4096 changes the size, ALG=sha256 the digest.
set -euo pipefail
bin=${BIN:-target/release/unstuck}
size_mib=${SIZE_MIB:-1024}
alg=${ALG:-xxh3-chain}
runs=${RUNS:-3}
work=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

head -c $((size_mib << 20)) /dev/urandom > "$work/file.bin"
sync
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v s="$size_mib" -v t="$1" 'BEGIN { printf "%.2f s, %4.0f MiB/s", t, s / t }'; }

"$bin" serve --chat 127.0.0.1:0 --upload 127.0.0.1:0 --dir "$work/up" > "$work/out" 2> "$work/log" &
srv=$!
until grep -q listening "$work/out" 2>/dev/null; do sleep 0.05; done
to=$(grep -o 'upload=[0-9.:]*' "$work/out" | cut -d= -f2)

raw_pipe() {
    local port=$((20000 + RANDOM % 20000))
    socat -u -b 1048576 "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "OPEN:$work/raw.bin,creat,trunc" &
    local sink=$!
    sleep 0.3 # let the listener bind (outside the timed part)
    local t0; t0=$(now)
    socat -u -b 1048576 "OPEN:$work/file.bin" "TCP:127.0.0.1:$port"
    wait "$sink"
    secs "$t0" "$(now)"
    cmp "$work/file.bin" "$work/raw.bin"
    rm "$work/raw.bin"
}

unstuck_send() {
    local t0; t0=$(now)
    "$bin" send "$work/file.bin" --to "$to" --algorithm "$alg" > /dev/null 2>&1
    secs "$t0" "$(now)"
    cmp "$work/file.bin" "$work/up/file.bin"
    rm "$work/up/file.bin"
}

echo "file: $size_mib MiB over 127.0.0.1, $(nproc) cores"
best_raw=999999; best_send=999999
for i in $(seq "$runs"); do
    sync; r=$(raw_pipe)
    sync; s=$(unstuck_send)
    echo "run $i: socat pipe $(rate "$r") | unstuck send $(rate "$s")"
    best_raw=$(awk -v a="$best_raw" -v b="$r" 'BEGIN { print (b < a ? b : a) }')
    best_send=$(awk -v a="$best_send" -v b="$s" 'BEGIN { print (b < a ? b : a) }')
done
echo "best:  socat -b 1048576 file to file  $(rate "$best_raw")"
echo "best:  unstuck send ($alg)   $(rate "$best_send")  (hashed both ends, fsynced, verified, renamed)"
echo "server peak RSS over all runs: $(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$srv/status")"

# Shared helpers for benchmarks (source this file).

# ms_until_line PATTERN CMD...: run CMD in its own session, print the
# milliseconds from start until a stdout line contains PATTERN (or "timeout"
# after 300 s), then kill the whole session.
ms_until_line() {
  local pattern=$1
  shift
  local start end line found=0
  start=$(date +%s%N)
  # Its stdin is a pipe that stays open (QEMU's stdio chardev stops at EOF);
  # the whole pipeline is one process group, killed at the end.
  coproc BENCH_P { exec setsid bash -c 'sleep 100000 | "$@"' _ "$@" 2>/dev/null; }
  local pid=$BENCH_P_PID
  while IFS= read -r -t "${BENCH_TIMEOUT:-300}" line <&"${BENCH_P[0]}"; do
    if [[ $line == *"$pattern"* ]]; then found=1; break; fi
  done
  end=$(date +%s%N)
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ $found = 1 ]; then echo $(((end - start) / 1000000)); else echo timeout; fi
}

# median N1 N2 ...: the median of integers.
median() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'
}

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }

# qemu_hmp_time WORKDIR PATTERN COMMAND QEMU_ARGS...: start QEMU with its
# human monitor on a pipe; if PATTERN is set, wait until WORKDIR/serial
# contains it; then time COMMAND (e.g. "savevm s1") from sending it until
# the monitor's next prompt, print the milliseconds, and quit QEMU.
qemu_hmp_time() {
  local work=$1 pattern=$2 command=$3
  shift 3
  coproc QEMU_HMP { exec qemu-system-x86_64 -monitor stdio "$@" 2>"$work/qemu.err"; }
  local pid=$QEMU_HMP_PID chunk start end
  _hmp_prompt() {
    while IFS= read -r -d ')' -t 300 chunk <&"${QEMU_HMP[0]}"; do
      [[ $chunk == *"(qemu" ]] && return 0
    done
    return 1
  }
  _hmp_prompt || { echo "no-prompt"; kill "$pid" 2>/dev/null; return; }
  if [ -n "$pattern" ]; then
    local n=0
    until grep -q -- "$pattern" "$work/serial" 2>/dev/null; do
      sleep 0.1
      n=$((n + 1))
      [ $n -gt 3000 ] && { echo "timeout"; kill "$pid" 2>/dev/null; return; }
    done
  fi
  start=$(date +%s%N)
  echo "$command" >&"${QEMU_HMP[1]}"
  _hmp_prompt
  end=$(date +%s%N)
  echo "quit" >&"${QEMU_HMP[1]}"
  wait "$pid" 2>/dev/null
  echo $(((end - start) / 1000000))
}

# spread N1 N2 ...: "median p10 p90 stdev" of integers (nearest-rank
# percentiles, population standard deviation, rounded).
spread() {
  printf '%s\n' "$@" | sort -n | awk '
    { a[NR] = $1; s += $1; q += $1 * $1 }
    function pct(p,  k) { k = int(p * NR + 0.999999); if (k < 1) k = 1; return a[k] }
    END {
      med = (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)
      m = s / NR; v = q / NR - m * m; if (v < 0) v = 0
      printf "%d %d %d %d\n", med, pct(0.1), pct(0.9), sqrt(v) + 0.5
    }'
}

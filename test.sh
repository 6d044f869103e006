#!/usr/bin/env bash
# The test command: sets up what the tests need (Debian packages, the node oracle packages), builds, runs every test,
# then re-runs the compute tests with AVX2 switched off so the scalar fallback is proven too (the tensor and model tests
# also with AVX-512 off, for the 256-bit paths, and the tokenizer's encode/decode tests with every hardware intrinsic off); each
# re-run has a test that checks the switch reached the code, so a re-run cannot silently test the fast path again.
# With CI=true (.ci/run sets it) a test whose oracle or service is missing fails instead of skipping
# (tests/Shared/Oracle.cs), and any skipped test fails the run.
set -euo pipefail
cd "$(dirname "$0")"
ci=${CI:-}
[ "${ci,,}" = true ] && ci=true || ci=false

# Each area installs what its tests need (Debian packages, services, the node oracles) from its own idempotent
# script. A set-up that fails is reported here and the tests that need it say "skipped" with the reason, so one
# missing service does not hide every other result (with CI=true those tests fail, naming the missing piece).
for setup in tests/setup/*.sh; do
  [ -e "$setup" ] && { bash "$setup" || echo "WARNING: $setup failed; tests that need it will be skipped (fail with CI=true)" >&2; }
done

if [ -f tests/oracles/package.json ]; then
  (cd tests/oracles && npm ci --no-audit --no-fund --loglevel=error) \
    || echo "WARNING: npm ci in tests/oracles failed; the tiktoken oracle tests will be skipped (fail with CI=true)" >&2
fi

dotnet build LmForge.slnx -c Release

log=$(mktemp)
status=0
# Every temporary file and directory the tests make goes under one directory that is removed when this script ends
# (also after a failed or interrupted run), so a run leaves nothing behind in /tmp.
test_tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmforge-tests-XXXXXX")
trap 'rm -rf "$test_tmp" "$log"' EXIT
export TMPDIR="$test_tmp"
# A test that hangs is killed after 5 minutes and named in the log (blame), so a deadlock fails fast and says where.
run_tests() { dotnet test "$@" -c Release --no-build --blame-hang-timeout 5m --blame-hang-dump-type none 2>&1 | tee -a "$log" || status=1; }
scalar_tokenizer_tests="FullyQualifiedName~VectorPathTests|FullyQualifiedName~TiktokenExactnessTests|FullyQualifiedName~RoundTripTests|FullyQualifiedName~SplitPatternTests|FullyQualifiedName~SpecialTokenAndDecodeTests"
run_tests LmForge.slnx
DOTNET_EnableAVX2=0 run_tests tests/LmForge.Tensors.Tests
DOTNET_EnableAVX2=0 run_tests tests/LmForge.Models.Tests
# Kernels that prefer 512-bit vectors (the GEMM micro-kernel's 6×32 tile, the few-rows GEMM tiles) keep a 256-bit path
# for machines without AVX-512: the tensor and model tests again on it.
DOTNET_EnableAVX512=0 run_tests tests/LmForge.Tensors.Tests
DOTNET_EnableAVX512=0 run_tests tests/LmForge.Models.Tests
# The tokenizer's scanners and UTF-8 narrowing use Vector128 when the hardware has it: with every intrinsic off, the
# encode/decode tests against tiktoken and the round trips prove the scalar paths (VectorPathTests checks they ran).
DOTNET_EnableHWIntrinsic=0 run_tests tests/LmForge.Tokenization.Tests --filter "$scalar_tokenizer_tests"

# One closing line over all runs, from the runner's own per-assembly summaries.
summary=$(awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log")
echo "$summary"
read -r _ _ _ _ _ skipped _ <<<"$summary"
if [ "$ci" = true ] && [ "$skipped" -gt 0 ]; then
  echo "FAILED: CI=true and $skipped test(s) skipped; a CI run must run every test (see the skip reasons above)" >&2
  status=1
fi
exit "$status"

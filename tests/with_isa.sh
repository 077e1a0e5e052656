#!/usr/bin/env bash
# with_isa.sh NAME COMMAND...: run COMMAND with this machine computing as a CPU of kind NAME.
#
# Whisper's int8 kernels give different transcripts per instruction set, and which kernels run
# depends on the CPU: CTranslate2's own (CT2_FORCE_CPU_ISA), oneDNN's GEMMs on AMD
# (ONEDNN_MAX_CPU_ISA), MKL's on Intel (CT2_USE_MKL, MKL_ENABLE_INSTRUCTIONS); numpy dispatches
# too (NPY_DISABLE_CPU_FEATURES). Each switch can only lower what the hardware has.
# Measured on an AVX-512 AMD EPYC (Whisper base int8, tests/fixtures/audio): with oneDNN limited
# to AVX512_CORE, checkin_9_45_en.wav is "Check in line for the 5" (else "Check in 945"); with it
# limited to AVX2, entrada_13_40_pt.wav is "Entrada, treze e guarda a interessa."; with the whole
# avx2 or generic profile (numpy's features too) checkin is misheard again and entrada is not.
set -euo pipefail

has() { grep -qw "$1" /proc/cpuinfo; }

case "${1:-}" in
  generic)  # SSE4.1 only: any x86-64 made since 2008
    export CT2_USE_MKL=0 CT2_FORCE_CPU_ISA=GENERIC ONEDNN_MAX_CPU_ISA=SSE41 \
      NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" ;;
  avx2)  # AMD Zen 1-3, Intel before Skylake-SP
    export CT2_USE_MKL=0 CT2_FORCE_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 \
      NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" ;;
  avx512-core)  # Intel Skylake-SP: AVX-512 without VNNI (needs an AVX-512 machine to emulate)
    if ! has avx512f; then
      echo "with_isa: avx512-core needs a CPU with AVX-512; this one has none, skipped" >&2
      exit 0
    fi
    export CT2_USE_MKL=0 ONEDNN_MAX_CPU_ISA=AVX512_CORE ;;
  mkl-avx2)  # Intel's default path (MKL), limited to AVX2
    export CT2_USE_MKL=1 CT2_FORCE_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ;;
  *)
    echo "usage: $0 generic|avx2|avx512-core|mkl-avx2 COMMAND..." >&2; exit 2 ;;
esac
shift
exec "$@"

# A CPU-only host, for planning runs on whisperc's own Go runtime. The
# numbers are a nominal 8-core AVX2+FMA desktop at 3 GHz: 8 cores × 3e9
# cycles × 32 fp32 FLOPs per cycle (two 8-wide FMA units) = 0.77 TFLOPS,
# dual-channel DDR4-3200 (51.2 GB/s), 32 GiB of RAM. `whisperc plan` on a
# CPU-only machine uses the detected cores, SIMD width and RAM instead.
target "cpu" {
  description        = "CPU-only host (nominal 8-core AVX2 desktop)"
  device             = "cpu"
  memory_mib         = 32768
  bandwidth_gbs      = 51.2
  bf16               = false
  fp8                = false
  peak_tflops {
    fp32 = 0.768
  }
  source = "Intel 64 and IA-32 Architectures Optimization Reference Manual (FMA throughput: 2 per cycle on 256-bit vectors); JEDEC DDR4-3200"
  url    = "https://www.intel.com/content/www/us/en/developer/articles/technical/intel-sdm.html"
}

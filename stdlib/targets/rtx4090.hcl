# NVIDIA GeForce RTX 4090 (Ada Lovelace AD102). Tensor throughput with fp32
# accumulation, dense.
# Memory is the nominal capacity; NVML reports 24,564 MiB usable.
target "rtx4090" {
  description        = "NVIDIA GeForce RTX 4090 24GB"
  aliases            = ["rtx4090-24gb", "4090"]
  device             = "gpu"
  memory_mib         = 24576
  bandwidth_gbs      = 1008
  compute_capability = "8.9"
  bf16               = true
  fp8                = true
  peak_tflops {
    fp32 = 82.6
    fp16 = 165.2
    bf16 = 165.2
    fp8  = 330.3
    int8 = 660.6
  }
  source = "NVIDIA Ada GPU Architecture whitepaper (2022), Appendix A Table 2, dense figures"
  url    = "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf"
}

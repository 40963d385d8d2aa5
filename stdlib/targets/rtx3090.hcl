# NVIDIA GeForce RTX 3090 (Ampere GA102). Tensor throughput with fp32
# accumulation, as mixed-precision training uses it (fp16 accumulation
# doubles it).
target "rtx3090" {
  description        = "NVIDIA GeForce RTX 3090 24GB"
  aliases            = ["rtx3090-24gb", "3090"]
  device             = "gpu"
  memory_mib         = 24576
  bandwidth_gbs      = 936
  compute_capability = "8.6"
  bf16               = true
  fp8                = false
  peak_tflops {
    fp32 = 35.6
    fp16 = 71
    bf16 = 71
    int8 = 284
  }
  source = "NVIDIA Ampere GA102 GPU Architecture whitepaper (2020), Table 9, dense figures"
  url    = "https://images.nvidia.com/aem-dam/en-zz/Solutions/geforce/ampere/pdf/NVIDIA-ampere-GA102-GPU-Architecture-Whitepaper-V1.pdf"
}

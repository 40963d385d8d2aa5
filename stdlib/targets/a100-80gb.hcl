# NVIDIA A100 80GB SXM4 (Ampere GA100, HBM2e).
target "a100-80gb" {
  description        = "NVIDIA A100 SXM4 80GB"
  aliases            = ["a100"]
  device             = "gpu"
  memory_mib         = 81920
  bandwidth_gbs      = 2039
  compute_capability = "8.0"
  bf16               = true
  fp8                = false
  peak_tflops {
    fp32 = 19.5
    tf32 = 156
    fp16 = 312
    bf16 = 312
    int8 = 624
  }
  source = "NVIDIA A100 Tensor Core GPU data sheet (2021), dense figures, 80GB SXM column"
  url    = "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"
}

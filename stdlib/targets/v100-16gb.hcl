# NVIDIA V100 SXM2 16GB (Volta GV100). Tensor cores compute fp16 only.
target "v100-16gb" {
  description        = "NVIDIA V100 SXM2 16GB"
  aliases            = ["v100"]
  device             = "gpu"
  memory_mib         = 16384
  bandwidth_gbs      = 900
  compute_capability = "7.0"
  bf16               = false
  fp8                = false
  peak_tflops {
    fp32 = 15.7
    fp16 = 125
  }
  source = "NVIDIA V100 Tensor Core GPU data sheet (2020), SXM2 column"
  url    = "https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf"
}

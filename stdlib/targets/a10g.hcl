# NVIDIA A10G (AWS G5 instances), Ampere GA102. NVIDIA publishes no A10G
# data sheet; the throughput is the A10's (same GA102 chip and memory
# system), which AWS's G5 documentation matches for memory and bandwidth.
# Memory is the nominal capacity; NVML reports 23,028 MiB usable.
target "a10g" {
  description        = "NVIDIA A10G 24GB (AWS G5)"
  aliases            = ["a10g-24gb", "a10"]
  device             = "gpu"
  memory_mib         = 24576
  bandwidth_gbs      = 600
  compute_capability = "8.6"
  bf16               = true
  fp8                = false
  peak_tflops {
    fp32 = 31.2
    tf32 = 62.5
    fp16 = 125
    bf16 = 125
    int8 = 250
  }
  source = "NVIDIA A10 Tensor Core GPU data sheet (2021), dense figures; Amazon EC2 G5 instance documentation"
  url    = "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a10/pdf/a10-datasheet.pdf"
}

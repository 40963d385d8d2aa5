# NVIDIA H200 SXM 141GB (Hopper GH100, HBM3e): the H100's compute with more
# and faster memory. Dense figures (the data sheet's sparse ones halved).
# Memory is the nominal capacity; NVML reports 143,771 MiB usable.
target "h200" {
  description        = "NVIDIA H200 SXM 141GB"
  aliases            = ["h200-141gb"]
  device             = "gpu"
  memory_mib         = 144384
  bandwidth_gbs      = 4800
  compute_capability = "9.0"
  bf16               = true
  fp8                = true
  peak_tflops {
    fp32 = 67
    tf32 = 494.7
    fp16 = 989.4
    bf16 = 989.4
    fp8  = 1978.9
    int8 = 1978.9
  }
  source = "NVIDIA H200 Tensor Core GPU data sheet (2024), SXM column, sparse figures halved"
  url    = "https://www.nvidia.com/en-us/data-center/h200/"
}

# NVIDIA L4 (Ada Lovelace AD104, 72 W). The data sheet lists sparse
# throughput; the dense figures here are half of it.
# Memory is the nominal capacity; NVML reports 23,034 MiB usable.
target "l4" {
  description        = "NVIDIA L4 24GB"
  aliases            = ["l4-24gb"]
  device             = "gpu"
  memory_mib         = 24576
  bandwidth_gbs      = 300
  compute_capability = "8.9"
  bf16               = true
  fp8                = true
  peak_tflops {
    fp32 = 30.3
    tf32 = 60
    fp16 = 121
    bf16 = 121
    fp8  = 242.5
    int8 = 242.5
  }
  source = "NVIDIA L4 Tensor Core GPU data sheet (2023), sparse figures halved"
  url    = "https://www.nvidia.com/en-us/data-center/l4/"
}

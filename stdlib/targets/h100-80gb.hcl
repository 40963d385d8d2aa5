# NVIDIA H100 SXM5 80GB (Hopper GH100, HBM3). The data sheet lists sparse
# tensor throughput; the dense figures are half. Memory as NVML reported
# it on the machine of planner/testdata/measured (81,559 MiB).
# Memory is the nominal capacity; NVML reports 81,559 MiB usable.
target "h100-80gb" {
  description        = "NVIDIA H100 SXM5 80GB"
  aliases            = ["h100", "h100-sxm"]
  device             = "gpu"
  memory_mib         = 81920
  bandwidth_gbs      = 3350
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
  source = "NVIDIA H100 Tensor Core GPU data sheet (2023), SXM column, sparse figures halved"
  url    = "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet"
}

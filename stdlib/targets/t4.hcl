# NVIDIA T4 (Turing TU104, 70 W). Dense peak throughput from the data sheet;
# memory as NVML reports it (15,360 MiB of the 16 GB GDDR6).
# Memory is the nominal capacity; NVML reports 15,360 MiB usable.
target "t4" {
  description        = "NVIDIA T4 16GB"
  aliases            = ["t4-16gb"]
  device             = "gpu"
  memory_mib         = 16384
  bandwidth_gbs      = 320
  compute_capability = "7.5"
  bf16               = false
  fp8                = false
  peak_tflops {
    fp32 = 8.1
    fp16 = 65
    int8 = 130
  }
  source = "NVIDIA T4 Tensor Core GPU data sheet (2019)"
  url    = "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf"
}

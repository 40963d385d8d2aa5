//go:build !cgo

package hw

// defaultProber asks nvidia-smi: NVML needs cgo.
func defaultProber() GPUProber { return NvidiaSMI{} }

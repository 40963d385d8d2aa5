package hw

import (
	"runtime"
	"slices"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// cpuFeatures maps cpuid features to the names whisperc reports.
var cpuFeatures = []struct {
	id   cpuid.FeatureID
	name string
}{
	{cpuid.SSE42, "sse4.2"}, {cpuid.AVX, "avx"}, {cpuid.AVX2, "avx2"}, {cpuid.FMA3, "fma"},
	{cpuid.F16C, "f16c"}, {cpuid.AVX512F, "avx512f"}, {cpuid.AVX512BF16, "avx512bf16"},
	{cpuid.AVX512FP16, "avx512fp16"}, {cpuid.AVXVNNI, "avx_vnni"}, {cpuid.AVX512VNNI, "avx512vnni"},
	{cpuid.AMXBF16, "amx_bf16"}, {cpuid.ASIMD, "neon"}, {cpuid.SVE, "sve"},
}

func detectCPU() CPU {
	c := cpuid.CPU
	out := CPU{
		Model:         strings.TrimSpace(c.BrandName),
		Vendor:        c.VendorString,
		PhysicalCores: c.PhysicalCores,
		LogicalCores:  c.LogicalCores,
		Hz:            c.Hz,
		Features:      []string{},
	}
	if out.LogicalCores <= 0 {
		out.LogicalCores = runtime.NumCPU()
	}
	if out.PhysicalCores <= 0 {
		out.PhysicalCores = out.LogicalCores
	}
	if out.Model == "" {
		out.Model = runtime.GOARCH + " CPU"
	}
	for _, f := range cpuFeatures {
		if c.Supports(f.id) {
			out.Features = append(out.Features, f.name)
		}
	}
	slices.Sort(out.Features)
	return out
}

// Package hw detects the machine whisperc plans for: GPUs through NVML
// (count, name, memory, compute capability, driver and CUDA versions), the
// CPU's model, cores and SIMD features, RAM, and a bounded disk
// read-bandwidth probe. Without NVIDIA's library, or built without cgo, it
// reports a CPU-only machine; it never fails for lack of a GPU.
package hw

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Hardware is what Detect found.
type Hardware struct {
	GPUs []GPU `json:"gpus"`
	// Driver is the NVIDIA driver version, CUDA the highest CUDA version
	// the driver supports ("12.4"); both empty without GPUs.
	Driver string `json:"driver_version,omitempty"`
	CUDA   string `json:"cuda_version,omitempty"`
	CPU    CPU    `json:"cpu"`
	// RAMBytes is the host memory; RAMAvailableBytes what the kernel
	// reports as available now.
	RAMBytes          int64 `json:"ram_bytes"`
	RAMAvailableBytes int64 `json:"ram_available_bytes,omitempty"`
	// Disk is the read-bandwidth probe of Options.DiskDir, when asked for.
	Disk *Disk `json:"disk,omitempty"`
	// Notes say what could not be detected and why.
	Notes []string `json:"notes,omitempty"`
}

// GPU is one CUDA device.
type GPU struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	UUID        string `json:"uuid,omitempty"`
	MemoryBytes int64  `json:"memory_bytes"`
	FreeBytes   int64  `json:"free_bytes"`
	// CCMajor and CCMinor are the CUDA compute capability.
	CCMajor int `json:"cc_major"`
	CCMinor int `json:"cc_minor"`
}

// ComputeCapability returns the compute capability as a number, such as
// 8.6.
func (g GPU) ComputeCapability() float64 {
	return float64(g.CCMajor) + float64(g.CCMinor)/10
}

// CPU describes the host processor.
type CPU struct {
	Model         string `json:"model"`
	Vendor        string `json:"vendor,omitempty"`
	PhysicalCores int    `json:"physical_cores"`
	LogicalCores  int    `json:"logical_cores"`
	// Usable is the number of CPUs this process may use: those its
	// scheduling affinity allows, capped by its control groups' CPU quota
	// (rounded up). The planner and the runtime use this many, not the
	// cores cpuid reports (a VM may report its host's).
	Usable int `json:"usable_cpus"`
	// Quota is the cgroup CPU quota in CPUs, 0 when none applies.
	Quota float64 `json:"cpu_quota,omitempty"`
	// Hz is the base frequency when the CPU reports one, else 0.
	Hz int64 `json:"hz,omitempty"`
	// Features lists the SIMD extensions whisperc's kernels care about
	// (sse4.2, avx, avx2, fma, f16c, avx512f, avx512bf16, avx_vnni,
	// neon, ...), sorted.
	Features []string `json:"features"`
}

// Has reports whether the CPU has the named feature.
func (c CPU) Has(feature string) bool {
	for _, f := range c.Features {
		if f == feature {
			return true
		}
	}
	return false
}

// FLOPsPerCycle returns the peak fp32 FLOPs per core and cycle: vector
// width in floats × 2 FMA units × 2 FLOPs per FMA with FMA, one add and
// one multiply per cycle without it.
func (c CPU) FLOPsPerCycle() float64 {
	switch {
	case c.Has("avx512f") && c.Has("fma"):
		return 16 * 2 * 2
	case c.Has("avx2") && c.Has("fma"):
		return 8 * 2 * 2
	case c.Has("avx"):
		return 8 * 2
	case c.Has("neon"):
		return 4 * 2 * 2
	}
	return 4 * 2
}

// PeakFP32 returns the CPU's peak fp32 FLOP/s over the cores the process
// may use (Cores),
// assuming 3 GHz when the frequency is unknown.
func (c CPU) PeakFP32() float64 {
	hz := float64(c.Hz)
	if hz <= 0 {
		hz = 3e9
	}
	return float64(c.Cores()) * hz * c.FLOPsPerCycle()
}

// Cores returns the cores the process may compute on: the physical
// cores, at most the usable CPUs.
func (c CPU) Cores() int {
	cores := c.PhysicalCores
	if cores <= 0 {
		cores = max(c.LogicalCores, 1)
	}
	if c.Usable > 0 && c.Usable < cores {
		cores = c.Usable
	}
	return cores
}

// Disk is the result of the read-bandwidth probe.
type Disk struct {
	Path string `json:"path"`
	// Device identifies the file system the probe read from; the cache key.
	Device string `json:"device"`
	// ReadBytesPerSec is the measured sequential read bandwidth (page cache
	// included: a second run measures memory, which is what a warm load
	// sees too).
	ReadBytesPerSec float64 `json:"read_bytes_per_s"`
	BytesRead       int64   `json:"bytes_read"`
	// Cached reports whether the value came from the user cache.
	Cached bool `json:"cached"`
}

// GPUReport is what a GPUProber found.
type GPUReport struct {
	GPUs   []GPU
	Driver string
	CUDA   string
}

// GPUProber finds GPUs. NVML (cgo builds) and NvidiaSMI (any build) are
// the implementations; tests inject go-nvml's mock servers.
type GPUProber interface {
	ProbeGPUs(ctx context.Context) (GPUReport, error)
}

// ErrNoGPULibrary is returned by a GPUProber when the GPU library or tool
// is not installed: a CPU-only machine, not a failure.
var ErrNoGPULibrary = errors.New("no NVIDIA library")

// Options configure Detect.
type Options struct {
	// GPUs probes the GPUs; nil uses NVML where built with cgo, else
	// nvidia-smi.
	GPUs GPUProber
	// DiskDir, when set, is probed for read bandwidth (bounded to
	// DiskBudget bytes and one second); the result is cached per device
	// in CacheDir (default: the user cache directory).
	DiskDir  string
	CacheDir string
	// MeminfoPath overrides /proc/meminfo (tests).
	MeminfoPath string
	// ProcCgroup and CgroupRoot override /proc/self/cgroup and
	// /sys/fs/cgroup (tests).
	ProcCgroup, CgroupRoot string
}

// Detect finds the hardware of this machine: NVML (or nvidia-smi) for
// GPUs, /proc/meminfo for RAM, no disk probe. GPU and RAM failures become
// Notes; the error is only for a cancelled context.
func Detect(ctx context.Context) (*Hardware, error) { return DetectWith(ctx, Options{}) }

// DetectWith is Detect with options: an injected GPU prober, a directory
// to probe for read bandwidth, other cache and meminfo paths.
func DetectWith(ctx context.Context, opts Options) (*Hardware, error) {
	h := &Hardware{CPU: detectCPU(), GPUs: []GPU{}}
	prober := opts.GPUs
	if prober == nil {
		prober = defaultProber()
	}
	rep, err := probeSafely(ctx, prober)
	switch {
	case errors.Is(err, ErrNoGPULibrary):
		h.Notes = append(h.Notes, "no NVIDIA driver library found: CPU-only machine")
	case err != nil:
		h.Notes = append(h.Notes, "GPU detection failed: "+err.Error())
	default:
		h.GPUs, h.Driver, h.CUDA = rep.GPUs, rep.Driver, rep.CUDA
		if h.GPUs == nil {
			h.GPUs = []GPU{}
		}
	}
	path := opts.MeminfoPath
	if path == "" {
		path = "/proc/meminfo"
	}
	if total, avail, err := readMeminfo(path); err == nil {
		h.RAMBytes, h.RAMAvailableBytes = total, avail
	} else {
		h.Notes = append(h.Notes, "RAM not detected: "+err.Error())
	}
	procCg, cgRoot := opts.ProcCgroup, opts.CgroupRoot
	if procCg == "" {
		procCg = "/proc/self/cgroup"
	}
	if cgRoot == "" {
		cgRoot = "/sys/fs/cgroup"
	}
	h.CPU.Usable = affinityCPUs()
	quota, memLimit := cgroupLimits(procCg, cgRoot)
	if quota > 0 {
		h.CPU.Quota = quota
		if q := int(math.Ceil(quota)); h.CPU.Usable <= 0 || q < h.CPU.Usable {
			h.CPU.Usable = q
		}
	}
	if memLimit > 0 && (h.RAMBytes <= 0 || memLimit < h.RAMBytes) {
		h.RAMBytes = memLimit
		h.RAMAvailableBytes = min(h.RAMAvailableBytes, memLimit)
		h.Notes = append(h.Notes, "memory limited by the process's control group")
	}
	if opts.DiskDir != "" {
		d, err := ProbeDisk(ctx, opts.DiskDir, opts.CacheDir)
		if err != nil {
			h.Notes = append(h.Notes, "disk probe failed: "+err.Error())
		} else {
			h.Disk = d
		}
	}
	if err := ctx.Err(); err != nil {
		return h, err
	}
	return h, nil
}

// probeSafely turns a panic inside the GPU library binding into an error.
func probeSafely(ctx context.Context, p GPUProber) (rep GPUReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in GPU probe: %v", r)
		}
	}()
	return p.ProbeGPUs(ctx)
}

// Fingerprint returns a stable hash of what decides a plan: GPU count,
// names and memory, CPU model and cores, RAM rounded to GiB. Saved plans
// record it; free memory, driver versions and the disk probe are left
// out.
func (h *Hardware) Fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gpus=%d\n", len(h.GPUs))
	for _, g := range h.GPUs {
		fmt.Fprintf(&b, "gpu=%s|%d|%d.%d\n", g.Name, g.MemoryBytes, g.CCMajor, g.CCMinor)
	}
	fmt.Fprintf(&b, "cpu=%s|%d|%d\n", h.CPU.Model, h.CPU.PhysicalCores, h.CPU.LogicalCores)
	fmt.Fprintf(&b, "ram_gib=%d\n", (h.RAMBytes+(1<<29))>>30)
	sum := sha256.Sum256([]byte(b.String()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

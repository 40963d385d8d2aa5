//go:build cgo

package hw

import (
	"context"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

func defaultProber() GPUProber { return NVML(nvml.New()) }

// NVML returns a GPUProber over an NVML implementation: nvml.New() for
// the real library, or one of go-nvml's mock servers.
func NVML(lib nvml.Interface) GPUProber { return nvmlProber{lib} }

type nvmlProber struct{ lib nvml.Interface }

// ProbeGPUs initialises NVML, reads every device and shuts NVML down.
func (p nvmlProber) ProbeGPUs(ctx context.Context) (GPUReport, error) {
	var rep GPUReport
	switch ret := p.lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED:
		return rep, ErrNoGPULibrary
	default:
		return rep, fmt.Errorf("NVML init: %s", p.lib.ErrorString(ret))
	}
	defer p.lib.Shutdown()
	if v, ret := p.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		rep.Driver = v
	}
	if v, ret := p.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS && v > 0 {
		rep.CUDA = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	n, ret := p.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return rep, fmt.Errorf("NVML device count: %s", p.lib.ErrorString(ret))
	}
	if n < 0 || n > 1024 {
		return rep, fmt.Errorf("NVML reports %d devices", n)
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		d, ret := p.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return rep, fmt.Errorf("NVML device %d: %s", i, p.lib.ErrorString(ret))
		}
		g := GPU{Index: i}
		if g.Name, ret = d.GetName(); ret != nvml.SUCCESS {
			return rep, fmt.Errorf("NVML device %d name: %s", i, p.lib.ErrorString(ret))
		}
		if u, ret := d.GetUUID(); ret == nvml.SUCCESS {
			g.UUID = u
		}
		mem, ret := d.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			return rep, fmt.Errorf("NVML device %d memory: %s", i, p.lib.ErrorString(ret))
		}
		g.MemoryBytes, g.FreeBytes = int64(mem.Total), int64(mem.Free)
		if g.CCMajor, g.CCMinor, ret = d.GetCudaComputeCapability(); ret != nvml.SUCCESS {
			return rep, fmt.Errorf("NVML device %d compute capability: %s", i, p.lib.ErrorString(ret))
		}
		rep.GPUs = append(rep.GPUs, g)
	}
	return rep, nil
}

package hw

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// NvidiaSMI is a GPUProber that runs nvidia-smi: the fallback of builds
// without cgo, where NVML cannot be loaded.
type NvidiaSMI struct{}

// smiQuery is the query NvidiaSMI runs; parseSMI reads its output.
const smiQuery = "index,name,uuid,memory.total,memory.free,compute_cap,driver_version"

// ProbeGPUs runs nvidia-smi, reporting ErrNoGPULibrary when it is absent.
func (NvidiaSMI) ProbeGPUs(ctx context.Context) (GPUReport, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return GPUReport{}, ErrNoGPULibrary
	}
	out, err := exec.CommandContext(ctx, path, "--query-gpu="+smiQuery, "--format=csv,noheader,nounits").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return GPUReport{}, ErrNoGPULibrary // installed without a driver
		}
		return GPUReport{}, err
	}
	return parseSMI(string(out))
}

// parseSMI reads nvidia-smi's CSV (memory in MiB).
func parseSMI(out string) (GPUReport, error) {
	var rep GPUReport
	r := csv.NewReader(strings.NewReader(out))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = 7
	recs, err := r.ReadAll()
	if err != nil {
		return rep, fmt.Errorf("nvidia-smi output: %w", err)
	}
	for _, f := range recs {
		idx, err1 := strconv.Atoi(f[0])
		total, err2 := strconv.ParseInt(f[3], 10, 64)
		free, err3 := strconv.ParseInt(f[4], 10, 64)
		major, minor, ok := strings.Cut(f[5], ".")
		ma, err4 := strconv.Atoi(major)
		mi, err5 := strconv.Atoi(minor)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil || !ok || total < 0 || total > 1<<30 || free < 0 {
			return rep, fmt.Errorf("nvidia-smi output: unreadable line %q", strings.Join(f, ", "))
		}
		rep.GPUs = append(rep.GPUs, GPU{Index: idx, Name: f[1], UUID: f[2], MemoryBytes: total << 20, FreeBytes: free << 20, CCMajor: ma, CCMinor: mi})
		rep.Driver = f[6]
	}
	return rep, nil
}

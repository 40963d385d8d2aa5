package hw

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

func pathKey(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	s := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(s[:8])
}

// WriteJSON writes the hardware as indented JSON (`whisperc hw --json`).
func (h *Hardware) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(h)
}

// WriteText writes a human-readable summary (`whisperc hw`).
func (h *Hardware) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(h.GPUs) == 0 {
		b.WriteString("GPUs:   none\n")
	} else {
		fmt.Fprintf(&b, "GPUs:   %d (driver %s, CUDA %s)\n", len(h.GPUs), orDash(h.Driver), orDash(h.CUDA))
		for _, g := range h.GPUs {
			fmt.Fprintf(&b, "  [%d] %s  %s total, %s free, compute capability %d.%d\n",
				g.Index, g.Name, Bytes(g.MemoryBytes), Bytes(g.FreeBytes), g.CCMajor, g.CCMinor)
		}
	}
	fmt.Fprintf(&b, "CPU:    %s, %d cores / %d threads, %d usable by this process", h.CPU.Model, h.CPU.PhysicalCores, h.CPU.LogicalCores, h.CPU.Usable)
	if h.CPU.Quota > 0 {
		fmt.Fprintf(&b, " (cgroup quota %.2g CPUs)", h.CPU.Quota)
	}
	if len(h.CPU.Features) > 0 {
		fmt.Fprintf(&b, ", %s", strings.Join(h.CPU.Features, " "))
	}
	fmt.Fprintf(&b, "\n        peak %.0f GFLOPS fp32\n", h.CPU.PeakFP32()/1e9)
	if h.RAMBytes > 0 {
		fmt.Fprintf(&b, "RAM:    %s (%s available)\n", Bytes(h.RAMBytes), Bytes(h.RAMAvailableBytes))
	}
	if h.Disk != nil {
		cached := ""
		if h.Disk.Cached {
			cached = ", cached"
		}
		fmt.Fprintf(&b, "Disk:   %s read %.0f MB/s%s\n", h.Disk.Path, h.Disk.ReadBytesPerSec/1e6, cached)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(&b, "note:   %s\n", n)
	}
	fmt.Fprintf(&b, "Fingerprint: %s\n", h.Fingerprint())
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Bytes renders a byte count with a binary unit: "80.0 GiB".
func Bytes(n int64) string {
	const unit = 1024
	neg := n < 0
	if neg {
		n = -n
	}
	sign := ""
	if neg {
		sign = "-"
	}
	if n < unit {
		return fmt.Sprintf("%s%d B", sign, n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%s%.1f %ciB", sign, float64(n)/float64(div), "KMGTP"[exp])
}

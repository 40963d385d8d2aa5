package hw

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fakeProber struct {
	rep GPUReport
	err error
}

func (f fakeProber) ProbeGPUs(context.Context) (GPUReport, error) { return f.rep, f.err }

func TestCPUOnly(t *testing.T) {
	h, err := DetectWith(context.Background(), Options{GPUs: fakeProber{err: ErrNoGPULibrary}, MeminfoPath: "testdata/meminfo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.GPUs) != 0 || h.RAMBytes != 16314884*1024 || h.RAMAvailableBytes != 9123456*1024 {
		t.Errorf("%+v", h)
	}
	if h.CPU.LogicalCores < 1 || h.CPU.Model == "" || h.CPU.PeakFP32() <= 0 {
		t.Errorf("cpu = %+v", h.CPU)
	}
	var js bytes.Buffer
	if err := h.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Hardware
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Fingerprint() != h.Fingerprint() {
		t.Errorf("JSON round trip: %v", err)
	}
	if !strings.Contains(js.String(), `"gpus": []`) {
		t.Errorf("no GPUs must be an empty list:\n%s", js.String())
	}
	var txt bytes.Buffer
	h.WriteText(&txt)
	for _, want := range []string{"GPUs:   none", "RAM:    15.6 GiB", "CPU-only", "Fingerprint: sha256:"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
}

func TestFingerprintIgnoresFreeMemory(t *testing.T) {
	g := GPU{Name: "NVIDIA L4", MemoryBytes: 23034 << 20, FreeBytes: 1, CCMajor: 8, CCMinor: 9}
	a := &Hardware{GPUs: []GPU{g}, RAMBytes: 64 << 30}
	g.FreeBytes = 2
	b := &Hardware{GPUs: []GPU{g}, RAMBytes: 64<<30 + 12345, Driver: "other"}
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("fingerprint depends on free memory, driver or RAM noise")
	}
	c := &Hardware{GPUs: []GPU{g, g}, RAMBytes: 64 << 30}
	if a.Fingerprint() == c.Fingerprint() {
		t.Error("fingerprint ignores the GPU count")
	}
}

func TestParseSMI(t *testing.T) {
	out := "0, NVIDIA H100 80GB HBM3, GPU-1234, 81559, 81000, 9.0, 580.159.04\n1, NVIDIA H100 80GB HBM3, GPU-5678, 81559, 80000, 9.0, 580.159.04\n"
	rep, err := parseSMI(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.GPUs) != 2 || rep.GPUs[1].MemoryBytes != 81559<<20 || rep.GPUs[0].CCMajor != 9 || rep.Driver != "580.159.04" {
		t.Errorf("%+v", rep)
	}
	for _, bad := range []string{"0, x, y, lots, 1, 9.0, d\n", "0, x\n", "0, x, y, 1, 1, nine, d\n", "0, x, y, -1, 1, 9.0, d\n"} {
		if _, err := parseSMI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMeminfoErrors(t *testing.T) {
	if _, _, err := parseMeminfo(strings.NewReader("garbage\nMemFree: x kB\n")); err == nil {
		t.Error("meminfo without MemTotal accepted")
	}
	h, _ := DetectWith(context.Background(), Options{GPUs: fakeProber{err: ErrNoGPULibrary}, MeminfoPath: "testdata/missing"})
	if h.RAMBytes != 0 || !strings.Contains(strings.Join(h.Notes, " "), "RAM not detected") {
		t.Errorf("%+v", h.Notes)
	}
}

func TestDiskProbeCaches(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), bytes.Repeat([]byte{7}, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	d, err := ProbeDisk(context.Background(), dir, cache)
	if err != nil {
		t.Fatal(err)
	}
	if d.BytesRead != 3<<20 || d.ReadBytesPerSec <= 0 || d.Cached {
		t.Errorf("first probe %+v", d)
	}
	d2, err := ProbeDisk(context.Background(), dir, cache)
	if err != nil || !d2.Cached || d2.ReadBytesPerSec != d.ReadBytesPerSec {
		t.Errorf("second probe %+v, %v", d2, err)
	}
	if _, err := ProbeDisk(context.Background(), t.TempDir(), t.TempDir()); err == nil {
		t.Error("empty directory measured")
	}
}

func FuzzParseSMI(f *testing.F) {
	f.Add("0, NVIDIA H100 80GB HBM3, GPU-1234, 81559, 81000, 9.0, 580.159.04\n")
	f.Add("0, \"a, b\", u, 1, 1, 8.6, d\n1, x, y, 2, 2, 7.5, d\n")
	f.Fuzz(func(t *testing.T, out string) {
		rep, err := parseSMI(out)
		if err == nil {
			for _, g := range rep.GPUs {
				if g.MemoryBytes < 0 || g.FreeBytes < 0 {
					t.Fatalf("negative memory %+v", g)
				}
			}
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add("MemTotal:       16314884 kB\nMemAvailable:    9123456 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		total, avail, err := parseMeminfo(strings.NewReader(s))
		if err == nil && (total <= 0 || avail < 0) {
			t.Fatalf("total %d avail %d", total, avail)
		}
	})
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 80 << 30: "80.0 GiB", -(3 << 20): "-3.0 MiB", 5 << 50: "5.0 PiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

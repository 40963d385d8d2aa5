//go:build cgo

package hw

import (
	"context"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

func TestNVMLMockDGXA100(t *testing.T) {
	h, err := DetectWith(context.Background(), Options{GPUs: NVML(dgxa100.New()), MeminfoPath: "testdata/meminfo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.GPUs) != 8 {
		t.Fatalf("%d GPUs, want 8", len(h.GPUs))
	}
	for i, g := range h.GPUs {
		if g.Index != i || !strings.Contains(g.Name, "A100-SXM4-40GB") || g.MemoryBytes != 40960<<20 || g.CCMajor != 8 || g.CCMinor != 0 {
			t.Errorf("GPU %d = %+v", i, g)
		}
	}
	if h.Driver != "550.54.15" || h.CUDA != "12.4" {
		t.Errorf("driver %q, CUDA %q", h.Driver, h.CUDA)
	}
	if h.RAMBytes != 16314884*1024 {
		t.Errorf("RAM = %d", h.RAMBytes)
	}
}

func TestNVMLMockDGXH100(t *testing.T) {
	h, err := DetectWith(context.Background(), Options{GPUs: NVML(dgxh100.New())})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.GPUs) != 8 {
		t.Fatalf("%d GPUs, want 8", len(h.GPUs))
	}
	g := h.GPUs[7]
	if g.Name != "NVIDIA H100 80GB HBM3" || g.MemoryBytes != 81920<<20 || g.ComputeCapability() != 9.0 {
		t.Errorf("GPU 7 = %+v", g)
	}
	a, _ := DetectWith(context.Background(), Options{GPUs: NVML(dgxa100.New())})
	if a.Fingerprint() == h.Fingerprint() {
		t.Error("A100 and H100 machines share a fingerprint")
	}
	h2, _ := DetectWith(context.Background(), Options{GPUs: NVML(dgxh100.New())})
	if h2.Fingerprint() != h.Fingerprint() {
		t.Error("fingerprint is not stable")
	}
}

// TestNVMLErrors injects failures into the mock server.
func TestNVMLErrors(t *testing.T) {
	notFound := dgxa100.New()
	notFound.InitFunc = func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }
	h, err := DetectWith(context.Background(), Options{GPUs: NVML(notFound)})
	if err != nil || len(h.GPUs) != 0 || !strings.Contains(strings.Join(h.Notes, " "), "CPU-only") {
		t.Errorf("library not found: %v, %+v", err, h)
	}

	noPerm := dgxa100.New()
	noPerm.InitFunc = func() nvml.Return { return nvml.ERROR_NO_PERMISSION }
	noPerm.ErrorStringFunc = func(r nvml.Return) string { return "Insufficient Permissions" }
	h, err = DetectWith(context.Background(), Options{GPUs: NVML(noPerm)})
	if err != nil || len(h.GPUs) != 0 || !strings.Contains(strings.Join(h.Notes, " "), "Insufficient Permissions") {
		t.Errorf("no permission: %v, %+v", err, h.Notes)
	}

	lost := dgxh100.New()
	lost.ErrorStringFunc = func(r nvml.Return) string { return "GPU is lost" }
	d := lost.Devices[3].(*server.Device)
	d.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_GPU_IS_LOST }
	h, _ = DetectWith(context.Background(), Options{GPUs: NVML(lost)})
	if len(h.GPUs) != 0 || !strings.Contains(strings.Join(h.Notes, " "), "device 3 memory: GPU is lost") {
		t.Errorf("lost GPU: %+v", h.Notes)
	}

	panicking := &mock.Interface{InitFunc: func() nvml.Return { panic("symbol not found") }}
	h, err = DetectWith(context.Background(), Options{GPUs: NVML(panicking)})
	if err != nil || !strings.Contains(strings.Join(h.Notes, " "), "internal error") {
		t.Errorf("panic: %v, %+v", err, h.Notes)
	}
}

// TestRealNVML runs the real library: on this CPU-only machine it must
// report no GPUs, not crash.
func TestRealNVML(t *testing.T) {
	h, err := Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d GPUs, notes %v", len(h.GPUs), h.Notes)
}

func TestTextWithGPUs(t *testing.T) {
	h, _ := DetectWith(context.Background(), Options{GPUs: NVML(dgxh100.New())})
	var b strings.Builder
	h.WriteText(&b)
	for _, want := range []string{"GPUs:   8 (driver 550.54.15, CUDA 12.4)", "[7] NVIDIA H100 80GB HBM3  80.0 GiB total", "compute capability 9.0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

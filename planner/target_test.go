package planner

import (
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/hw"
)

func TestFromHardware(t *testing.T) {
	h100 := hw.GPU{Name: "NVIDIA H100 80GB HBM3", MemoryBytes: 81559 << 20, CCMajor: 9, CCMinor: 0}
	h := &hw.Hardware{GPUs: []hw.GPU{h100, h100, h100, h100}, CUDA: "13.0"}
	tg := FromHardware(h)
	if tg.Profile.Name != "h100-80gb" || tg.Count != 4 || tg.Profile.MemoryBytes != 81559<<20 || tg.Source != "detected" {
		t.Errorf("detected H100s = %+v", tg)
	}
	if tg.Name() != "h100-80gb*4" {
		t.Errorf("name %q", tg.Name())
	}
	a10 := hw.GPU{Name: "NVIDIA A10", MemoryBytes: 23028 << 20, CCMajor: 8, CCMinor: 6}
	if p := FromHardware(&hw.Hardware{GPUs: []hw.GPU{a10}}).Profile; p.Name != "a10g" || !p.BF16 || p.FP8 {
		t.Errorf("A10 = %+v", p)
	}
	t4 := hw.GPU{Name: "Tesla T4", MemoryBytes: 15360 << 20, CCMajor: 7, CCMinor: 5}
	if p := FromHardware(&hw.Hardware{GPUs: []hw.GPU{t4}}).Profile; p.Name != "t4" || p.BF16 || p.FlashAttention() {
		t.Errorf("T4 = %+v", p)
	}
	cpu := FromHardware(&hw.Hardware{CPU: hw.CPU{Model: "AMD EPYC", PhysicalCores: 2, LogicalCores: 2, Features: []string{"avx2", "fma"}}, RAMBytes: 24 << 30})
	if cpu.Profile.GPU || cpu.Profile.MemoryBytes != 24<<30 || cpu.Profile.PeakTFLOPS["fp32"] != 2*3e9*32/1e12 ||
		!strings.Contains(cpu.Profile.Source, "2 cores") {
		t.Errorf("CPU = %+v", cpu.Profile)
	}
	if d := cpu.Device(); d.GPU || d.ContextBytes != 0 || d.Peak[0] != 0 {
		t.Errorf("CPU device %+v", d)
	}
	if nilT := FromHardware(nil); nilT.Profile.Name != "cpu" {
		t.Errorf("nil hardware = %+v", nilT)
	}
}

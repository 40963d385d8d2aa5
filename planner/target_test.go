package planner

import (
	"context"
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
		!strings.Contains(cpu.Profile.Source, "2 usable cores") {
		t.Errorf("CPU = %+v", cpu.Profile)
	}
	// A VM that reports its host's 254 cores but lets the process use 2.
	vm := FromHardware(&hw.Hardware{CPU: hw.CPU{Model: "AMD EPYC", PhysicalCores: 127, LogicalCores: 254, Usable: 2, Features: []string{"avx2", "fma"}}, RAMBytes: 24 << 30})
	if vm.Profile.PeakTFLOPS["fp32"] != 2*3e9*32/1e12 || !strings.Contains(vm.Profile.Source, "2 usable cores") {
		t.Errorf("VM CPU = %+v", vm.Profile)
	}
	if d := cpu.Device(); d.GPU || d.ContextBytes != 0 || d.Peak[0] != 0 {
		t.Errorf("CPU device %+v", d)
	}
	if nilT := FromHardware(nil); nilT.Profile.Name != "cpu" {
		t.Errorf("nil hardware = %+v", nilT)
	}
}

func TestResolveTarget(t *testing.T) {
	prog := checkFile(t, "testdata/qlora.whisper")
	detected := &hw.Hardware{GPUs: []hw.GPU{{Name: "NVIDIA H100 80GB HBM3", MemoryBytes: 81559 << 20, CCMajor: 9}}}
	calls := 0
	detect := func() (*hw.Hardware, error) { calls++; return detected, nil }
	if tg, ds := ResolveTarget("a100-80gb*2", prog, detect); len(ds) != 0 || tg.Name() != "a100-80gb*2" {
		t.Errorf("flag: %v %v", tg, ds)
	}
	if tg, _ := ResolveTarget("", prog, detect); tg.Name() != "rtx4090" || tg.Source != "builtin" {
		t.Errorf("target block: %+v", tg)
	}
	noTarget := check(t, map[string]string{"m.whisper": "model m { source = \"hf:meta-llama/Llama-2-7b-hf\" }\n"}, "m.whisper")
	if tg, _ := ResolveTarget("", noTarget, detect); tg.Source != "detected" || tg.Profile.Name != "h100-80gb" {
		t.Errorf("detected: %+v", tg)
	}
	if calls != 1 {
		t.Errorf("detect called %d times, want only when needed", calls)
	}
	tg, ds := ResolveTarget("", noTarget, func() (*hw.Hardware, error) { return nil, context.Canceled })
	if tg.Profile.Name != "cpu" || len(ds) != 1 || ds[0].Severity.String() != "warning" {
		t.Errorf("failed detection: %+v %v", tg, ds)
	}
}

func TestWriteTargets(t *testing.T) {
	var b strings.Builder
	if err := WriteTargets(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"h100-80gb   80.0 GiB    3350 GB/s  9.0    67.0 TF   989.4 TF  h100, h100-sxm", "cpu ", "t4 "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("targets table lacks %q:\n%s", want, b.String())
		}
	}
}

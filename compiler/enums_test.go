package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// schemaEnum returns the enum values of an attribute (path "block.attr" or
// "block.nested.attr"), the enum alternatives of a one-of included.
func schemaEnum(t *testing.T, path ...string) []string {
	t.Helper()
	b, ok := stdlib.LookupBlock(path[0])
	if !ok {
		t.Fatalf("no block %s", path[0])
	}
	for _, n := range path[1 : len(path)-1] {
		nb, ok := b.NestedBlock(n)
		if !ok {
			t.Fatalf("no nested block %s", n)
		}
		b = *nb
	}
	a, ok := b.Attr(path[len(path)-1])
	if !ok {
		t.Fatalf("no attribute %v", path)
	}
	ty := a.Type
	if ty.Kind == stdlib.TypeList {
		ty = *ty.Elem
	}
	return ty.EnumNames()
}

// TestEnumsMatchSchema keeps the Go enums in step with stdlib: a value the
// schema accepts must have a Go constant, and the other way round.
func TestEnumsMatchSchema(t *testing.T) {
	for _, tc := range []struct {
		path  []string
		names []string
	}{
		{[]string{"finetune", "method"}, methodNames()},
		{[]string{"finetune", "checkpointing"}, checkpointModeNames()[:3]},
		{[]string{"finetune", "attention"}, attentionNames()},
		{[]string{"generate", "attention"}, attentionNames()},
		{[]string{"serve", "compile"}, compileModeNames()},
		{[]string{"finetune", "compile"}, compileModeNames()},
		{[]string{"finetune", "optimizer", "name"}, optimizerNameNames()},
		{[]string{"finetune", "optimizer", "schedule"}, scheduleNames()},
		{[]string{"dataset", "format"}, dataFormatNames()},
		{[]string{"dataset", "version"}, versioningNames()},
		{[]string{"version", "data"}, versioningNames()},
		{[]string{"version", "checkpoints"}, versioningNames()},
		{[]string{"finetune", "distributed", "strategy"}, strategyNames()},
		{[]string{"finetune", "distributed", "engine"}, engineNames()},
		{[]string{"track", "backend"}, trackBackendNames()},
		{[]string{"track", "log"}, logItemNames()},
		{[]string{"export", "format"}, exportFormatNames()},
		{[]string{"export", "quantize"}, exportQuantNames()},
		{[]string{"variable", "type"}, varTypeNames()},
	} {
		if diff := cmp.Diff(schemaEnum(t, tc.path...), tc.names); diff != "" {
			t.Errorf("%v (-schema +go):\n%s", tc.path, diff)
		}
	}
	// The number formats are dtype's: every spelling the schema accepts
	// parses to the constant of that name (quantize.method's none is no
	// quantize block).
	for _, tc := range []struct {
		path []string
		want []DType
	}{
		{[]string{"model", "quantize", "method"}, []DType{QuantNF4, QuantFP4, QuantInt8, QuantQ8_0, QuantQ4_0, DTypeInvalid}},
		{[]string{"model", "quantize", "compute"}, []DType{DTypeFP32, DTypeFP16, DTypeBF16}},
		{[]string{"finetune", "precision"}, []DType{DTypeFP32, DTypeFP16, DTypeBF16, DTypeFP8}},
	} {
		names := schemaEnum(t, tc.path...)
		var got []DType
		for _, n := range names {
			got = append(got, ParseDType(n))
			if d := ParseDType(n); d != DTypeInvalid && d.String() != n {
				t.Errorf("%v: %q parses to %v", tc.path, n, d)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%v %v (-want +got):\n%s", tc.path, names, diff)
		}
	}
	// lora.targets: the groups, then the module list.
	b, _ := stdlib.LookupBlock("finetune")
	l, _ := b.NestedBlock("lora")
	a, _ := l.Attr("targets")
	if diff := cmp.Diff([]string{"attention", "mlp", "all"}, a.Type.EnumNames()); diff != "" {
		t.Errorf("lora.targets groups: %s", diff)
	}
	if diff := cmp.Diff(moduleNames(), a.Type.Alts[1].Elem.EnumNames()); diff != "" {
		t.Errorf("lora.targets (-schema +go):\n%s", diff)
	}
	if diff := cmp.Diff(append(stdlib.AttentionModules(), stdlib.MLPModules()...), moduleNames()); diff != "" {
		t.Errorf("modules (-stdlib +go):\n%s", diff)
	}
}

func TestEnumZeroIsInvalid(t *testing.T) {
	if DType(0).String() != "invalid" || ParseAttention("nope") != AttentionInvalid || Attention(99).String() != "invalid" {
		t.Error("zero and unknown enum values must be invalid")
	}
	if ParseAttention("flash2") != AttentionFlash2 || AttentionFlash2.String() != "flash2" {
		t.Error("round trip failed")
	}
}

// TestDefaultsCheck parses every schema default and checks it against its
// own attribute's type and bounds, so that a default cannot be invalid.
func TestDefaultsCheck(t *testing.T) {
	c := newChecker(Options{})
	var walk func(path string, bs []stdlib.Block)
	walk = func(path string, bs []stdlib.Block) {
		for _, b := range bs {
			p := path + b.Kind + "."
			for _, a := range b.Attrs {
				if a.Default == "" {
					continue
				}
				v, ok := parseDefault(a.Default)
				if !ok {
					t.Errorf("%s%s: default %q does not parse", p, a.Name, a.Default)
					continue
				}
				if _, ok := c.conform(conformCtx{what: p + a.Name, bounds: a.Bounds}, v, a.Type); !ok {
					t.Errorf("%s%s: default %q does not check: %v", p, a.Name, a.Default, c.diags)
					c.diags = nil
				}
			}
			walk(p, b.Nested)
		}
	}
	walk("", stdlib.Blocks())
}

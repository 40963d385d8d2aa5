package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
)

// sharedModel returns the absolute path of a shared test model, skipping
// when it is absent.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	p := testmodels.Path(t, name)
	return p
}

// planSource checks a pipeline whose model block is modelBody (with
// $MODEL and $TOK for the stories260K files) and generate block genBody,
// and plans it for an 8 GiB CPU machine.
func planSource(t *testing.T, modelBody, genBody string) (*planner.Plan, *compiler.Program, diag.Diagnostics) {
	t.Helper()
	model, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	src := "model m {\n  source = \"llama2c:" + model + "\"\n  tokenizer = \"" + tok + "\"\n" + modelBody + "}\n" +
		"generate g {\n  model = m\n" + genBody + "}\n"
	name := filepath.Join(t.TempDir(), "p.whisper")
	if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(name, compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("%s", diag.Text(prog.Files, ds))
	}
	plan, pds := planner.Build(prog, machine(8<<30), planner.Options{})
	return plan, prog, append(ds, pds...)
}

// graphVariants are inference pipelines that between them set every kind
// of graph node the CPU runtime executes.
var graphVariants = []struct{ name, model, gen string }{
	{"fp32", "", "  prompt = \"Once\"\n  max_tokens = 20\n  kv_cache = true\n  attention = eager\n"},
	{"nf4", "  quantize {\n    method = nf4\n    double = false\n  }\n", "  prompt = \"Once\"\n  max_tokens = 20\n  kv_cache = true\n  attention = flash2\n  compile = reduce_overhead\n"},
	{"q8_0", "  quantize { method = q8_0 }\n", "  prompt = \"Once\"\n  max_tokens = 20\n  kv_cache = false\n  attention = sdpa\n  compile = none\n"},
}

// step is one move from a value to a part of it: a struct field, a slice
// element, or through a pointer (allocating it when nil).
type step struct {
	field int // struct field index, or -1
	elem  int // slice element, or -1
}

// leaf is a mutable part of a graph and the name of the field it is.
type leaf struct {
	path  []step
	field string // "Linear.Weight"
	kind  string // "set", "nil", "empty", "dup"
}

// leaves lists every field under v (element 0 of each slice, the inside
// of each pointer, allocated when nil), each with its mutations.
func leaves(t reflect.Type, path []step, name string, out *[]leaf) {
	add := func(kind string) {
		*out = append(*out, leaf{path: append([]step(nil), path...), field: name, kind: kind})
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			leaves(f.Type, append(path, step{field: i, elem: -1}), t.Name()+"."+f.Name, out)
		}
	case reflect.Pointer:
		add("nil")
		leaves(t.Elem(), append(path, step{field: -1, elem: -1}), name, out)
	case reflect.Slice:
		add("empty")
		add("dup")
		leaves(t.Elem(), append(path, step{field: -1, elem: 0}), name, out)
	default:
		add("set")
	}
}

// apply makes one mutation on a copy of g.
func apply(t *testing.T, g *planner.Graph, l leaf) *planner.Graph {
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var c planner.Graph
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(&c).Elem()
	for _, s := range l.path {
		switch {
		case s.field >= 0:
			v = v.Field(s.field)
		case s.elem >= 0:
			if v.Len() == 0 {
				return nil
			}
			v = v.Index(s.elem)
		default:
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
	}
	switch l.kind {
	case "nil":
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.Set(reflect.Zero(v.Type()))
		}
	case "empty":
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	case "dup":
		if v.Len() == 0 {
			return nil
		}
		v.Set(reflect.Append(v, v.Index(0)))
	default:
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int, reflect.Int64, reflect.Int32:
			v.SetInt(v.Int() + 1)
		case reflect.Float64:
			v.SetFloat(v.Float() + 1)
		case reflect.String:
			v.SetString(v.String() + "x")
		default:
			t.Fatalf("%s: no mutation for kind %s; teach this test", l.field, v.Kind())
		}
	}
	return &c
}

// TestGraphFieldsConsumed mutates every field of planned inference graphs
// (and allocates every optional node) and checks that the runtime either
// refuses the graph or builds a different engine from it: a field the
// runtime ignores, including one added to planner.Graph later, fails
// this test.
func TestGraphFieldsConsumed(t *testing.T) {
	var all []leaf
	leaves(reflect.TypeOf(planner.Graph{}), nil, "Graph", &all)
	exercised := map[string]bool{}
	for _, v := range graphVariants {
		plan, prog, ds := planSource(t, v.model, v.gen)
		if ds.HasErrors() {
			t.Fatalf("%s: %s", v.name, diag.Text(prog.Files, ds))
		}
		g := plan.Stage("generate.g").Graph
		ws, err := llama2c.Open(sharedModel(t, "stories260K.bin"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := ws.Config
		base, err := EngineOptions(g, cfg)
		if err != nil {
			t.Fatalf("%s: the planned graph is refused: %v", v.name, err)
		}
		for _, l := range all {
			m := apply(t, g, l)
			if m == nil {
				continue
			}
			exercised[l.field] = true
			got, err := EngineOptions(m, cfg)
			if err == nil && reflect.DeepEqual(got, base) {
				t.Errorf("%s: mutating %s (%s at %v) changed nothing: the runtime ignores it", v.name, l.field, l.kind, l.path)
			}
		}
	}
	for _, l := range all {
		if !exercised[l.field] {
			t.Errorf("field %s was never mutated; give graphVariants a graph that has it", l.field)
		}
	}
	_ = arch.Config{}
}

// TestEngineOptionsNodes checks that per-node settings reach the engine:
// each layer's attention kernel, each linear's format and double
// quantisation, the classifier's format (q8_0 under a quantised CPU
// plan), the cache's context.
func TestEngineOptionsNodes(t *testing.T) {
	plan, _, _ := planSource(t, graphVariants[1].model, graphVariants[1].gen)
	g := plan.Stage("generate.g").Graph
	ws, err := llama2c.Open(sharedModel(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := EngineOptions(g, ws.Config)
	if err != nil {
		t.Fatal(err)
	}
	wq := o.Weights["layers.0.attention.wq.weight"]
	if wq.Format.String() != "nf4" || wq.DoubleQuant || o.Weights["output.weight"].Format.String() != "q8_0" ||
		len(o.LayerAttention) != 5 || o.LayerAttention[4].String() != "flash2" || !o.KVCache || o.Context != g.KVCache.Context ||
		o.Compile != compiler.CompileReduceOverhead {
		t.Errorf("options = %+v", o)
	}
	if len(o.Weights) != 5*7+1 {
		t.Errorf("%d weights, want %d", len(o.Weights), 5*7+1)
	}
	var names []string
	for n := range o.Weights {
		names = append(names, n)
	}
	if s := strings.Join(names, ","); !strings.Contains(s, "layers.4.feed_forward.w2.weight") {
		t.Errorf("weights %s", s)
	}
	_ = fmt.Sprint
}

package engine

import (
	"reflect"
	"sync"
	"unsafe"

	"gorgonia.org/gorgonia"
)

// runTape runs a compiled inference graph's whole program on the calling
// goroutine: Gorgonia's tape machine Run over its program's instructions,
// the same instructions in the same order as RunAll executes. RunAll
// itself locks the calling goroutine to its OS thread (for CUDA) and
// runs the tape on a new goroutine while it waits: a locked goroutine
// that blocks hands its P to another thread, and the P comes back to it
// when the tape is done, so every forward pass woke two OS threads. With
// a second thread spinning for the pool's products, the thread woken at
// each pass found no idle CPU and could land on the worker's (the
// kernel then time-slices the two and leaves the other CPU idle for
// milliseconds), which made a 15M decode at two threads slower than at
// one (issue 8). The tape machine's program is not exported, so runTape
// reaches it through reflection; where the machine is not the one this
// was written for (another Gorgonia version) it falls back to RunAll,
// and TestRunTapeIsDirect fails.
func runTape(vm gorgonia.VM) error {
	if run, ok := directTape(vm); ok && !tapeRunAll {
		return run()
	}
	return vm.RunAll()
}

// tapeRunAll makes runTape call RunAll, for the test that compares the two.
var tapeRunAll = false

// tapeFields is where a tape machine of type t keeps its program (field
// p) and the program its instructions; nil where t is not of that shape.
func tapeFields(t reflect.Type) (prog, instrs []int) {
	if v, ok := tapeShapes.Load(t); ok {
		f := v.([2][]int)
		return f[0], f[1]
	}
	prog, instrs = tapeShape(t)
	tapeShapes.Store(t, [2][]int{prog, instrs})
	return prog, instrs
}

// tapeShapes caches tapeShape by the machine's type.
var tapeShapes sync.Map

func tapeShape(t reflect.Type) (prog, instrs []int) {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, nil
	}
	p, ok := t.Elem().FieldByName("p")
	if !ok || p.Type.Kind() != reflect.Pointer || p.Type.Elem().Kind() != reflect.Struct {
		return nil, nil
	}
	in, ok := p.Type.Elem().FieldByName("instructions")
	if !ok || in.Type.Kind() != reflect.Slice {
		return nil, nil
	}
	m, ok := t.MethodByName("Run")
	if !ok || m.Type.NumIn() != 2 || m.Type.In(1) != in.Type || m.Type.NumOut() != 1 ||
		m.Type.Out(0) != reflect.TypeFor[error]() {
		return nil, nil
	}
	return p.Index, in.Index
}

// directTape returns the function that runs vm's program on the calling
// goroutine, and false where vm is not a tape machine of the expected
// shape.
func directTape(vm gorgonia.VM) (func() error, bool) {
	rv := reflect.ValueOf(vm)
	if !rv.IsValid() {
		return nil, false
	}
	prog, instrs := tapeFields(rv.Type())
	if prog == nil || rv.IsNil() {
		return nil, false
	}
	pf := rv.Elem().FieldByIndex(prog)
	if pf.Type().Kind() != reflect.Pointer || pf.IsNil() {
		return nil, false
	}
	// The fields are unexported: read them through their addresses.
	p := reflect.NewAt(pf.Type(), unsafe.Pointer(pf.UnsafeAddr())).Elem()
	inf := p.Elem().FieldByIndex(instrs)
	in := reflect.NewAt(inf.Type(), unsafe.Pointer(inf.UnsafeAddr())).Elem()
	run := rv.MethodByName("Run")
	if !run.IsValid() {
		return nil, false
	}
	return func() error {
		out := run.Call([]reflect.Value{in})
		if err, _ := out[0].Interface().(error); err != nil {
			return err
		}
		return nil
	}, true
}

//go:build unix

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format"
)

// coldPhase is one phase of cold's breakdown: wall and CPU seconds and the
// minor page faults (first touches of fresh memory) it took.
type coldPhase struct {
	Wall   float64 `json:"wall_s"`
	CPU    float64 `json:"cpu_s"`
	MinFlt int64   `json:"minflt"`
	GCs    int64   `json:"gcs"`
	Alloc  uint64  `json:"heap_alloc_bytes"`
}

// cold measures what the first prefill of a process pays beyond a warm
// one: run's engine, then the prompt's graph built alone (Prepare), the
// first prefill, and a second prefill of the same prompt from position 0
// (Reset), each with its wall and CPU time and its page faults.
func cold(args []string) error {
	fs := flag.NewFlagSet("cold", flag.ExitOnError)
	model := fs.String("model", "", "model spec (llama2c:PATH or gguf:PATH)")
	q := fs.String("quantize", "none", "none, nf4, fp4, q8_0")
	promptN := fs.Int("prompt", 128, "prompt tokens, prefilled as one batch")
	genN := fs.Int("gen", 32, "tokens the context leaves room for")
	prepare := fs.Bool("prepare", true, "build the prompt's graph before the first prefill, timed apart")
	reserve := fs.Bool("reserve", false, "build the engine for the prompt as one batch (engine.Options.Batch, as run does by default): the KV cache touched and the prompt's graph and buffers made within load")
	fs.Parse(args)
	quant := map[string]engine.Quantize{"none": engine.QuantizeNone, "nf4": engine.QuantizeNF4, "fp4": engine.QuantizeFP4, "q8_0": engine.QuantizeQ8_0}[*q]
	if quant == engine.QuantizeInvalid {
		return fmt.Errorf("unknown -quantize %q", *q)
	}
	ctx := context.Background()
	phase := func(f func() error) (coldPhase, error) {
		var r0, r1 syscall.Rusage
		var g0, g1 debug.GCStats
		debug.ReadGCStats(&g0)
		m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(m)
		a0 := m[0].Value.Uint64()
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t := time.Now()
		err := f()
		w := time.Since(t)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		debug.ReadGCStats(&g1)
		metrics.Read(m)
		cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
		return coldPhase{Wall: w.Seconds(), CPU: cpu.Seconds(), MinFlt: r1.Minflt - r0.Minflt, GCs: g1.NumGC - g0.NumGC, Alloc: m[0].Value.Uint64() - a0}, err
	}
	batch := 0
	if *reserve {
		batch = *promptN
	}
	var e *engine.Engine
	load, err := phase(func() error {
		ws, err := format.OpenWeights(*model)
		if err != nil {
			return err
		}
		e, err = engine.New(ctx, ws, runOptions(quant, 1, *promptN+*genN+1, batch))
		return err
	})
	if err != nil {
		return err
	}
	prompt := make([]int, *promptN)
	prompt[0] = 1
	for i := 1; i < len(prompt); i++ {
		prompt[i] = 259 + (i*7919)%(e.Config().Vocab-259)
	}
	var build coldPhase
	if *prepare {
		if build, err = phase(func() error { return e.Prepare(*promptN) }); err != nil {
			return err
		}
	}
	first, err := phase(func() error { _, err := e.Forward(ctx, prompt); return err })
	if err != nil {
		return err
	}
	e.Reset()
	second, err := phase(func() error { _, err := e.Forward(ctx, prompt); return err })
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"model": *model, "prompt": *promptN, "load": load, "build": build, "first": first, "second": second,
	})
}

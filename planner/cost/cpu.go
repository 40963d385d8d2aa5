package cost

import (
	"fmt"
	"math"
	"sort"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
)

// CPURates is what whisperc's CPU runtime measured on this machine
// (runtime.Calibrate), so that CPU plans predict the runtime that will
// run them rather than a nominal roofline:
//
//   - Stream gives, per weight format, the rate at which the runtime's
//     matrix-vector kernels consume weights (bytes of the format per
//     second, with Threads threads) at working sets of several sizes,
//     since a model that fits the caches streams faster than one that
//     does not;
//   - LayerSeconds and TokenSeconds are the fixed costs of one decode
//     step, per transformer layer and per token, by compile mode (graph
//     execution, norms, RoPE, attention on short contexts, sampling);
//   - BaseBytes is the resident memory of the process before it loads a
//     model (Go runtime, Gorgonia, the binary), and ExecutableBytes the
//     part of it that is the executable's own pages: how much of the
//     file is resident depends on the kernel and on the folios the file
//     has in the page cache (24 MiB of whisperc read from disk, 37 MiB of
//     a copy the linker has just written, on this project's 6.18 VM).
//     Both are measured after the process released the executable's
//     pages that compiling and planning touched, as a run does before it
//     loads a model; StartupBytes is the peak before that release, which
//     a run whose model is small never grows past.
type CPURates struct {
	Threads      int                      `json:"threads"`
	Stream       map[string][]StreamPoint `json:"stream"`
	LayerSeconds map[string]float64       `json:"layer_seconds"`
	TokenSeconds map[string]float64       `json:"token_seconds"`
	BaseBytes    int64                    `json:"base_bytes"`
	// ExecutableBytes is 0 in calibrations older than the field.
	ExecutableBytes int64 `json:"executable_bytes,omitempty"`
	// StartupBytes is 0 in calibrations older than the field.
	StartupBytes int64 `json:"startup_bytes,omitempty"`
	// ReleasedBytes is how much of the executable was resident before the
	// release (0 in calibrations older than the field): a server, which
	// does not release it, holds at least that much of the file.
	ReleasedBytes int64 `json:"released_bytes,omitempty"`
}

// StreamPoint is one measured streaming rate: Bytes of weights in the
// working set, consumed at BytesPerSecond.
type StreamPoint struct {
	Bytes          int64   `json:"bytes"`
	BytesPerSecond float64 `json:"bytes_per_s"`
}

// rate returns the streaming rate of format at a working set of n bytes:
// interpolated in log(n) between measured points, flat beyond them; 0
// when the format was not measured.
func (r *CPURates) rate(format DType, n float64) float64 {
	pts := r.Stream[format.String()]
	if len(pts) == 0 {
		return 0
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Bytes < pts[j].Bytes })
	if n <= float64(pts[0].Bytes) {
		return pts[0].BytesPerSecond
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if n <= float64(b.Bytes) {
			t := (math.Log(n) - math.Log(float64(a.Bytes))) / (math.Log(float64(b.Bytes)) - math.Log(float64(a.Bytes)))
			return a.BytesPerSecond + t*(b.BytesPerSecond-a.BytesPerSecond)
		}
	}
	return pts[len(pts)-1].BytesPerSecond
}

// streamed returns the bytes of weights one decode step reads, by
// format: every per-layer linear and the classifier (a tied classifier is
// the embedding matrix); embeddings are looked up one row at a time.
func (w *Workload) streamed() map[DType]float64 {
	out := map[DType]float64{}
	for _, m := range w.Arch.Modules() {
		head := m.Name == "lm_head" || (w.Arch.Tied && m.Name == "embed_tokens")
		if m.Kind != arch.Linear && !head {
			continue
		}
		if m.Kind == arch.Linear && !m.PerLayer && !head {
			continue
		}
		if head && w.headQuantized() {
			out[w.HeadQuant.Type] += float64(w.headBytes())
			continue
		}
		if w.quantized() && m.Kind == arch.Linear && m.PerLayer {
			q := w.Quant
			q.Rows = m.Out
			out[w.Quant.Type] += float64(q.Bytes(int64(m.In), int64(m.Out)) * int64(m.Count))
			continue
		}
		out[w.Storage] += float64(m.Params() * int64(w.Storage.Bytes()))
	}
	return out
}

// stepLayer returns the measured decode step of one layer
// (StepLayerSeconds), corrected for the caches: when the runtime measured
// it on a model of fewer layers than the shape's (StepLayers, three when
// unset: runtime.DecodeStep times the whole model when its file fits its
// budget), that model's weights may stay in caches that the whole
// model's, total bytes with kv bytes of KV cache, do not fit. Each
// layer's weight bytes are then charged again at the calibrated
// streaming rate of the whole model's working set instead of the small
// model's, when that rate is lower.
func (w *Workload) stepLayer(r *CPURates, total, kv float64) float64 {
	c := w.Arch
	layer := w.StepLayerSeconds
	measured := w.StepLayers
	if measured <= 0 {
		measured = 3
	}
	if c.Layers <= measured {
		return layer
	}
	f := w.Storage
	if w.quantized() {
		f = w.Quant.Type
	}
	head := float64(c.Vocab) * float64(c.Dim) * float64(w.Storage.Bytes())
	if w.headQuantized() {
		head = float64(w.headBytes())
	}
	lb := (total - head) / float64(c.Layers)
	small, whole := r.rate(f, float64(measured)*lb+head), r.rate(f, total+kv)
	if small > 0 && whole > 0 && whole < small {
		layer += lb * (1/whole - 1/small)
	}
	return layer
}

// cpuDecode predicts the CPU runtime's decode from measured rates: each
// step streams the weights at the measured rate of their format (at the
// working set of the whole model) and the KV cache at the fp32 rate, and
// pays the measured per-layer and per-token costs of the compile mode.
func (w *Workload) cpuDecode(r *CPURates) Time {
	n := w.NewTokens
	st := w.streamed()
	flops := w.ForwardFLOPsPerToken(w.Seq+n/2) * float64(n*max(w.Batch, 1))
	if !w.KVCache {
		flops *= float64(w.Seq + n/2) // the prefix is recomputed every step
	}
	total := 0.0
	for _, b := range st {
		total += b
	}
	ctxMid := w.Seq + n/2
	kv := 0.0
	if w.KVCache {
		kv = float64(w.KVCacheBytes(ctxMid))
	}
	step := 0.0
	if w.StepLayerSeconds > 0 || w.StepHeadSeconds > 0 {
		step = float64(w.Arch.Layers)*w.stepLayer(r, total, kv) + w.StepHeadSeconds
		if w.StepPositionSeconds > 0 {
			// Measured on this shape at position StepPosition, and how a
			// layer's step grows with the context: at the generation's
			// middle position. The attention over the cache is not bound
			// by streaming it: on stories260K (dim 64) a step at
			// position 160 took 37% longer than at 32, where the cache's
			// bytes at the fp32 rate add 1%.
			step = max(step+float64(w.Arch.Layers)*w.StepPositionSeconds*(float64(ctxMid)-StepPosition), w.StepHeadSeconds)
		} else if rt, short := r.rate(FP32, total+kv), float64(w.KVCacheBytes(16)); rt > 0 && kv > short {
			// Measured at a short context only: add the KV cache's
			// growth beyond it at the fp32 rate.
			step += (kv - short) / rt
		}
		if !w.KVCache {
			step *= float64(ctxMid)
		}
		step *= float64(max(w.Batch, 1))
		return Time{Seconds: step * float64(n), Bytes: (total + kv) * float64(n), Tokens: float64(n * max(w.Batch, 1)),
			FLOPs: flops, Efficiency: 1, Bound: "measured"}
	}
	for f, b := range st {
		if rt := r.rate(f, total+kv); rt > 0 {
			step += b / rt
		}
	}
	if rt := r.rate(FP32, total+kv); rt > 0 {
		step += kv / rt
	}
	mode := w.CompileMode
	if mode == compiler.CompileInvalid {
		mode = compiler.CompileNone
	}
	// The calibration file keys the costs by the mode's spelling.
	step += float64(w.Arch.Layers)*r.LayerSeconds[mode.String()] + r.TokenSeconds[mode.String()]
	if !w.KVCache {
		step *= float64(ctxMid) // the prefix is recomputed every step
	}
	step *= float64(max(w.Batch, 1))
	return Time{Seconds: step * float64(n), Bytes: (total + kv) * float64(n), Tokens: float64(n * max(w.Batch, 1)),
		FLOPs: flops, Efficiency: 1, Bound: "measured"}
}

// StepPosition is the context position at which the CPU runtime's
// decode step is measured (runtime.DecodeStep times positions 8 to 55;
// Workload.StepLayerSeconds and StepHeadSeconds are their medians).
const StepPosition = 32

// StepNoisy is the spread between the rounds of a decode-step measurement
// (Workload.StepSpread) above which the plan says the machine looked
// noisy while it measured.
const StepNoisy = 0.10

// HeapHeadroom is how far the CPU runtime lets the Go heap grow beyond
// its live size while it trains (runtime.boundHeap sets the collector's
// percentage to it): a sixteenth of the live heap, at least 16 MiB (a
// training step leaves megabytes of garbage; less makes the collector
// run several times a step), and never more than the default's
// (GOGC=100) twice the live size.
func HeapHeadroom(live int64) int64 { return max(live/16, 16<<20) }

// DecodeHeapHeadroom is the same bound while the runtime generates or
// serves: a sixteenth of the live heap, at least 4 MiB (the collector's
// own smallest goal). A decode step leaves 20–150 KB of garbage (more on
// larger models), so 4 MiB is a collection every 25 to 200 tokens, each
// marking a live heap that is mostly pointer-free KV cache and quantised
// weights; 16 MiB, the training floor, added 12 MiB to every run's peak.
// A generation gets all of it whatever its live heap (4 MiB over
// stories260K's 2 MiB), before its first collection starts
// (runtime.boundGeneration); a server, like training, at most its live
// size, as the collector's goal (runtime.boundHeap).
func DecodeHeapHeadroom(live int64) int64 { return max(live/16, 4<<20) }

// gcOvershoot is how far past its goal the heap's peak goes while the
// collector marks concurrently. It was 1.5 (peaks 4–10 MiB above live +
// 16 MiB) when a decode step left 80–250 KB of garbage; since a step
// leaves about 20 KB (engine.Prepare, ops reusing their outputs) a mark
// cycle sees little allocation, and the quiet re-measure of every row in
// planner/testdata/measured/cpu-*.json fits 1.0: the peak is the goal.
const gcOvershoot = 1.0

// minHeapGoal is the Go collector's smallest heap goal (the runtime's
// heapminimum, 4 MiB at GOGC=100): a small model's heap grows that far
// before the first collection whatever its live size.
const minHeapGoal = 4 << 20

// EmbeddingFaultBytes is how much of a released, mapped embedding matrix
// one looked-up row brings back into the resident set: the kernel maps
// the pages around a faulting address, not just the row's. Measured on
// this project's 2-vCPU machine: 6.6 MB for 200 lookups of the 15M shape
// (planner/testdata/measured/cpu-*.json).
const EmbeddingFaultBytes = 32 << 10

// TokenizerHeapFactor is the heap a loaded tokenizer takes per byte of its
// file: 660,168 bytes for the 433,869-byte llama2.c export of the
// Llama-2 vocabulary (runtime/tokenizer's TestTokenizerHeap, measured
// with runtime.MemStats: its pieces in one byte slice and an
// open-addressing index of ids).
const TokenizerHeapFactor = 1.52

// cpuMemory predicts the CPU runtime's peak resident memory for an
// inference stage: the process before loading; the model file's pages
// the runtime keeps mapped (all of an unquantised model, whose weights run
// in place; the unquantised tensors of a quantised one, whose linear
// weights are quantised tensor by tensor and their pages released); the
// quantised copies (off the Go heap), the preallocated KV cache (a
// generation's off the Go heap, a server's slots' on it), the tokenizer
// and the buffers; and the collector's headroom over the Go heap, which
// the runtime bounds once the model is loaded (DecodeHeapHeadroom). Measured against whisperc run in
// planner/testdata/measured/cpu-*.json.
func (w *Workload) cpuMemory(dev Device) Memory {
	c := w.Arch
	r := dev.CPU
	comps := []Component{{Name: "process", Bytes: r.BaseBytes, Note: "Go runtime, Gorgonia and the binary, measured before loading"}}
	if r.ExecutableBytes > 0 && r.ExecutableBytes < r.BaseBytes {
		exe, note := r.ExecutableBytes, "the whisperc executable's resident pages, measured before loading"
		if w.serving() && r.ReleasedBytes > exe {
			// The runtime releases the startup pages only before a
			// generation; a server keeps them.
			exe, note = r.ReleasedBytes, "the whisperc executable's resident pages after compiling and planning, which a server keeps"
		}
		comps = []Component{{Name: "executable", Bytes: exe, Note: note},
			{Name: "process", Bytes: r.BaseBytes - r.ExecutableBytes, Note: "the Go runtime and the packages' initialisation, measured before loading"}}
	}
	qw, ow := w.weightBytes()
	heap := int64(0)
	switch {
	case w.StoredWeightBytes > 0 || !w.quantized():
		file := w.FileBytes
		if file <= 0 {
			file = qw + ow
		}
		comps = append(comps, Component{Name: "weights_mapped", Bytes: file, Note: "the model file, mapped: the weights run in place"})
	default:
		mapped, note := ow, "the unquantised tensors, mapped from the file"
		if c.Tied && w.headQuantized() {
			// The classifier was quantised from the embedding matrix, a
			// slab at a time with each slab's pages released; lookups
			// bring back one row per position.
			emb := int64(c.Vocab) * int64(c.Dim) * int64(w.Storage.Bytes())
			rows := min(int64(w.Seq+w.NewTokens)*EmbeddingFaultBytes, emb)
			mapped, note = mapped-emb+rows, "the unquantised tensors, mapped from the file (of the embeddings, only the pages looked up)"
			if w.serving() {
				// A server looks up whatever tokens its requests bring
				// and sample: over its life, every row.
				mapped, note = mapped-rows+emb, "the unquantised tensors, mapped from the file (the embeddings whole: a server's requests look up every row in time)"
			}
		}
		what := "the " + w.Quant.Type.String() + " copies of the linear weights"
		if w.headQuantized() {
			what += " and the " + w.HeadQuant.Type.String() + " classifier"
		}
		// The copies are in one huge-page arena mapped off the Go heap
		// (kernels.HugeArena): the collector's goal does not count them.
		comps = append(comps, Component{Name: "weights_quantized", Bytes: qw, Note: what + ", in a huge-page arena off the Go heap"})
		comps = append(comps[:len(comps)-1], Component{Name: "weights_mapped", Bytes: mapped, Note: note}, comps[len(comps)-1])
	}
	ctx := w.Seq + w.NewTokens
	if c.MaxSeq > 0 && ctx > c.MaxSeq {
		ctx = c.MaxSeq
	}
	if w.KVCache {
		// A server's slots each hold a whole context's cache
		// (CacheBatch), however few sequences one step computes.
		kw := *w
		kw.Batch = max(w.Batch, w.CacheBatch)
		kv := kw.KVCacheBytes(ctx)
		if w.serving() {
			// A server's slot caches are Go slices (engine.NewKVCache):
			// live heap, which keeps the collector's percentage low
			// (runtime.boundHeap) while passes' activations come and go.
			comps = append(comps, Component{Name: "kv_cache", Bytes: kv, Note: "preallocated for every slot's whole context, fp32, on the Go heap"})
			heap += kv
		} else {
			// A generation's cache is mapped off the Go heap (the engine's
			// offHeap), outside the collector's goal.
			comps = append(comps, Component{Name: "kv_cache", Bytes: kv, Note: "preallocated for the whole context, fp32, off the Go heap"})
		}
	}
	if w.TokenizerFileBytes > 0 {
		tb := int64(TokenizerHeapFactor * float64(w.TokenizerFileBytes))
		comps = append(comps, Component{Name: "tokenizer", Bytes: tb, Note: "pieces, scores and lookup tables on the heap"})
		heap += tb
	}
	buf := int64(4 * (2*c.Vocab + 8*c.Dim + 3*c.HiddenDim))
	heap += buf
	comps = append(comps, Component{Name: "buffers", Bytes: buf, Note: "logits and one step's activations"})
	if w.serving() {
		// A server's passes are larger than a decode step's (cpuserve.go).
		act, room := w.serveHeapPeak(heap, ctx)
		comps = append(comps, Component{Name: "activations", Bytes: act,
			Note: fmt.Sprintf("one pass of %d rows (a prompt chunk beside every other slot's decoding token): each op's output, a layer's attention scores and the slots' logits", w.ServePassRows())},
			Component{Name: "gc_headroom", Bytes: room,
				Note: "garbage between collections: the server lets the heap grow by a sixteenth of its live size when it starts (at least 4 MiB, at most twice), a fraction that also applies to a pass's activations"})
		return finish(startupFloor(comps, r), 0, "decode", dev)
	}
	room := int64(gcOvershoot * float64(min(max(heap, minHeapGoal), DecodeHeapHeadroom(heap))))
	if rows := w.prefillRows(ctx); rows > 1 && w.CompileMode >= compiler.CompileReduceOverhead {
		// The prompt goes through the model in one pass (engine.Generate's
		// prefill; without a KV cache every step recomputes the whole
		// context). Under reduce_overhead and max_autotune its ops write
		// into the engine's arena, one buffer per op role shared by the
		// layers: one layer's activations and scores, which the engine
		// keeps through the decode steps. Measured with a 274-token
		// prompt: 15M fp32 +8.5 MiB over a one-token prompt, 42M +12.5.
		comps = append(comps, Component{Name: "prefill", Bytes: w.arenaPassBytes(rows),
			Note: fmt.Sprintf("the prompt's pass over %d rows: one layer's op outputs and attention scores, in buffers the engine keeps", rows)})
	} else if rows > 1 {
		// Under none and default the pass's multi-row graph allocates
		// every op's output on the Go heap, all live until the pass's last
		// op (then dropped): the heap then holds the pass's activations
		// where the decode steps that follow hold the collector's headroom
		// of garbage. The peak is the larger of the two. Measured with
		// prompts of 1 to 274 tokens: 15M fp32 83 to 120 MiB and 42M fp32
		// 190 to 417 MiB within 3% under default (15M q8_0 with varied
		// words within 3%); under none 15M within 1%, 42M 8% above.
		if act := w.passActivationBytes(rows, 1, rows); act > room {
			comps = append(comps, Component{Name: "prefill", Bytes: act,
				Note: fmt.Sprintf("the prompt's pass over %d rows: each op's output, a layer's attention scores and the logits, live until the pass ends (more than the decode steps' garbage between collections)", rows)})
			return finish(startupFloor(comps, r), 0, "decode", dev)
		}
	}
	comps = append(comps, Component{Name: "gc_headroom", Bytes: room,
		Note: "garbage between collections: the runtime lets the heap grow by a sixteenth of its live size (at least 4 MiB, at most GOGC=100's twice the live size)"})
	return finish(startupFloor(comps, r), 0, "decode", dev) // no allocator reserve on the CPU
}

// prefillRows returns the most rows one forward pass of a generation
// computes in a context of ctx positions: the prompt's (Seq) with a KV
// cache, the whole context without one.
func (w *Workload) prefillRows(ctx int) int {
	if !w.KVCache {
		return ctx
	}
	return min(w.Seq, ctx)
}

// startupFloor adds to comps, when they sum to less than the process's
// peak before it loaded anything (CPURates.StartupBytes), the difference:
// a run releases the executable's pages that compiling and planning
// touched before it loads a model, so a small model's run peaks before
// loading, while it plans.
func startupFloor(comps []Component, r *CPURates) []Component {
	if s := sum(comps); r.StartupBytes > s {
		comps = append(comps, Component{Name: "startup", Bytes: r.StartupBytes - s,
			Note: "the process peaked before loading the model, while it compiled and planned (executable pages it releases before loading)"})
	}
	return comps
}

// Rate returns the calibrated streaming rate of format at a working set
// of n bytes (bytes per second; 0 when the format was not calibrated).
func (r *CPURates) Rate(format DType, n float64) float64 { return r.rate(format, n) }

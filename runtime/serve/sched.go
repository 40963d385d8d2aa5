package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// Finish reasons, as OpenAI spells them.
const (
	finishStop      = "stop"      // EOS or a stop sequence
	finishLength    = "length"    // max_tokens or the context
	finishCancelled = "cancelled" // the client went away or timed out
	finishError     = "error"
)

// errQueueFull is returned by submit when max_queue requests already wait.
var errQueueFull = errors.New("the request queue is full")

// errDraining is returned by submit once the server is shutting down.
var errDraining = errors.New("the server is shutting down")

// job is one generation request as the scheduler sees it.
type job struct {
	ctx       context.Context
	prompt    []int
	maxTokens int
	stops     []string
	ignoreEOS bool
	smp       *sample.Sampler
	enqueued  time.Time

	// Written by the scheduler, read by the handler after a notify.
	mu       sync.Mutex
	pending  []byte // text produced and not yet taken
	done     bool
	finish   string
	err      error
	genCount int
	cached   int // prompt tokens whose KV came from the prefix cache
	ttft     time.Duration
	notify   chan struct{} // capacity 1: something changed

	// Scheduler-only state.
	slot   *slot
	logits []float32
	last   int    // the last token fed or sampled
	next   int    // a sampled token not yet fed, or -1
	drawn  int    // the token sampled this step, or -1
	text   []byte // everything generated, for stop sequences
	sent   int    // bytes of text already handed out
	start  time.Time
}

// take returns the text produced since the last call and whether the job
// has finished.
func (j *job) take() (text []byte, done bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	text, j.pending = j.pending, nil
	return text, j.done
}

// result returns the job's outcome once done.
func (j *job) result() (finish string, generated, cached int, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.finish, j.genCount, j.cached, j.err
}

func (j *job) signal() {
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

// slot is one of max_batch sequence slots: its KV cache and the tokens
// whose keys and values the cache holds. A slot keeps its tokens after
// its job ends, so that a later prompt with the same prefix reuses them.
type slot struct {
	kv     *engine.KVCache
	tokens []int
	job    *job
	used   int64 // step of last use, for picking the least recently used
}

// scheduler runs continuous batching: one goroutine owns the model, the
// slots and the active jobs, and advances every active job by one step
// per pass over the weights. Jobs join and leave between steps.
type scheduler struct {
	m        *engine.Engine
	tok      tokenizer.Tokenizer
	maxBatch int
	maxQueue int
	chunk    int // most prompt tokens one step prefills
	metrics  *metrics

	mu       sync.Mutex
	queue    []*job
	busy     int // slots held by active jobs, as of the loop's last admission
	draining bool
	wake     chan struct{}

	slots []*slot
	step  int64
	// pause is added to every step, and a non-nil gate holds each step
	// until it yields a value or is closed. Tests set them so that a
	// stream cannot finish, however slow the machine, before the test has
	// seen the queue it needs.
	pause time.Duration
	gate  chan struct{}
}

func newScheduler(m *engine.Engine, tok tokenizer.Tokenizer, maxBatch, maxQueue, chunk int, mt *metrics) *scheduler {
	s := &scheduler{m: m, tok: tok, maxBatch: maxBatch, maxQueue: maxQueue, chunk: chunk, metrics: mt,
		wake: make(chan struct{}, 1)}
	for range maxBatch {
		s.slots = append(s.slots, &slot{kv: m.NewKVCache()})
	}
	return s
}

// submit queues j, or refuses it when the queue is full or the server
// drains. A job that a free slot will take at the loop's next pass does
// not count against max_queue: two requests that arrive together at an
// idle server with max_batch = 1 and max_queue = 1 are both taken, even
// before the loop has woken to admit the first.
func (s *scheduler) submit(j *job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return errDraining
	}
	if waiting := len(s.queue) - (s.maxBatch - s.busy); waiting >= s.maxQueue {
		return errQueueFull
	}
	j.enqueued = time.Now()
	j.next = -1
	j.notify = make(chan struct{}, 1)
	j.logits = make([]float32, s.m.Config().Vocab)
	s.queue = append(s.queue, j)
	s.metrics.queueDepth.Set(float64(len(s.queue)))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// cancelQueued drops j from the queue, if it is still there, as
// cancelled.
func (s *scheduler) cancelQueued(j *job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queue {
		if q == j {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			// Counted as finished before the queue's depth drops, so
			// that a reader who sees the shorter queue also sees why.
			s.finish(j, finishCancelled, j.ctx.Err())
			s.metrics.queueDepth.Set(float64(len(s.queue)))
			return
		}
	}
}

// drain stops accepting jobs; run returns once every queued and active job
// has finished.
func (s *scheduler) drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run is the scheduler's loop. It returns when ctx is cancelled (failing
// what is left) or, after drain, when no job is left.
func (s *scheduler) run(ctx context.Context) {
	var active []*job
	for {
		s.mu.Lock()
		for len(s.queue) > 0 && len(active) < s.maxBatch {
			j := s.queue[0]
			s.queue = s.queue[1:]
			if j.ctx.Err() != nil {
				s.finish(j, finishCancelled, j.ctx.Err())
				continue
			}
			s.admit(j)
			active = append(active, j)
		}
		s.busy = len(active)
		s.metrics.queueDepth.Set(float64(len(s.queue)))
		idle := len(active) == 0 && len(s.queue) == 0
		draining := s.draining
		s.mu.Unlock()
		s.metrics.active.Set(float64(len(active)))
		if idle {
			if draining {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			for _, j := range active {
				s.finish(j, finishCancelled, err)
			}
			s.mu.Lock()
			for _, j := range s.queue {
				s.finish(j, finishCancelled, err)
			}
			s.queue = nil
			s.mu.Unlock()
			return
		}
		active = s.stepOnce(ctx, active)
	}
}

// admit gives j a slot: the free slot whose cached tokens share the
// longest prefix with j's prompt, or, when another slot (busy or free)
// shares a longer one, the least recently used free slot with that prefix
// copied in. At least the prompt's last token is always computed, since
// its logits are needed.
func (s *scheduler) admit(j *job) {
	limit := len(j.prompt) - 1
	var best *slot // free slot to use
	bestOwn := -1
	var lru *slot
	for _, sl := range s.slots {
		if sl.job != nil {
			continue
		}
		if n := min(commonPrefix(sl.tokens, j.prompt), limit); n > bestOwn {
			best, bestOwn = sl, n
		}
		if lru == nil || sl.used < lru.used {
			lru = sl
		}
	}
	var donor *slot
	donorLen := bestOwn
	for _, sl := range s.slots {
		if n := min(commonPrefix(sl.tokens, j.prompt), limit); n > donorLen {
			donor, donorLen = sl, n
		}
	}
	reuse := bestOwn
	if donor != nil && donor != best {
		// Copying a prefix is far cheaper than recomputing it; take the
		// least recently used free slot so the best-matching free one
		// stays for later.
		target := lru
		if target == donor {
			target = best
		}
		target.kv.CopyPrefix(donor.kv, donorLen)
		target.tokens = append(target.tokens[:0], j.prompt[:donorLen]...)
		best, reuse = target, donorLen
	}
	best.tokens = best.tokens[:reuse]
	best.job = j
	j.slot = best
	j.start = time.Now()
	j.mu.Lock()
	j.cached = reuse
	j.mu.Unlock()
	s.metrics.prefixHits.Add(float64(reuse))
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// stepOnce advances every active job by one batched forward pass and
// returns the jobs still active.
func (s *scheduler) stepOnce(ctx context.Context, active []*job) []*job {
	s.step++
	// Jobs whose client went away or timed out leave before the pass.
	kept := active[:0]
	for _, j := range active {
		if err := j.ctx.Err(); err != nil {
			s.finish(j, finishCancelled, err)
			continue
		}
		kept = append(kept, j)
	}
	active = kept
	if len(active) == 0 {
		return active
	}
	parts := make([]engine.Seq, 0, len(active))
	budget := s.chunk
	for _, j := range active {
		sl := j.slot
		sl.used = s.step
		pos := len(sl.tokens)
		if j.next >= 0 { // decoding: feed the token sampled last step
			parts = append(parts, engine.Seq{KV: sl.kv, Tokens: []int{j.next}, Pos: pos, Logits: j.logits})
			continue
		}
		rest := j.prompt[pos:]
		if budget <= 0 {
			continue // prefill resumes next step
		}
		take := min(len(rest), budget)
		budget -= take
		p := engine.Seq{KV: sl.kv, Tokens: rest[:take], Pos: pos}
		if take == len(rest) {
			p.Logits = j.logits
		}
		parts = append(parts, p)
	}
	if s.pause > 0 {
		time.Sleep(s.pause)
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
		}
	}
	t0 := time.Now()
	err := s.m.ForwardBatch(ctx, parts)
	s.metrics.batchSize.Observe(float64(len(parts)))
	s.metrics.stepSeconds.Observe(time.Since(t0).Seconds())
	if err != nil {
		for _, j := range active {
			s.finish(j, finishError, fmt.Errorf("the forward pass failed: %w", err))
		}
		return active[:0]
	}
	byKV := map[*engine.KVCache]engine.Seq{}
	for _, p := range parts {
		byKV[p.KV] = p
		// The cache now holds these tokens.
	}
	var ready []*job // jobs with logits to sample from
	for _, j := range active {
		j.drawn = -1
		p, ok := byKV[j.slot.kv]
		if !ok {
			continue
		}
		j.slot.tokens = append(j.slot.tokens, p.Tokens...)
		if j.next >= 0 {
			j.last = j.next
			j.next = -1
		} else {
			j.last = p.Tokens[len(p.Tokens)-1]
		}
		if p.Logits != nil {
			ready = append(ready, j)
		}
	}
	s.sampleAll(ready)
	kept = active[:0]
	generated := 0
	for _, j := range active {
		if j.drawn < 0 {
			kept = append(kept, j)
			continue
		}
		generated++
		if j.genCount == 0 {
			j.mu.Lock()
			j.ttft = time.Since(j.enqueued)
			j.mu.Unlock()
			s.metrics.ttft.Observe(j.ttft.Seconds())
		}
		if done := s.emit(j, j.drawn); !done {
			kept = append(kept, j)
		}
	}
	s.metrics.tokens.Add(float64(generated))
	return kept
}

// sampleAll draws each job's next token from its logits into drawn,
// spreading the jobs over the engine's threads: at a temperature above 0
// each draw is a softmax over the whole vocabulary, which for a batch of
// sequences costs about as much as a layer's products.
func (s *scheduler) sampleAll(js []*job) {
	t := min(s.m.Options().Threads, len(js))
	if t <= 1 {
		for _, j := range js {
			j.drawn = j.smp.Sample(j.logits)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range t {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(js); i += t {
				js[i].drawn = js[i].smp.Sample(js[i].logits)
			}
		}()
	}
	wg.Wait()
}

// emit records a sampled token: its text goes out unless it may begin a
// stop sequence or ends in an incomplete UTF-8 character; it reports
// whether the job has finished.
func (s *scheduler) emit(j *job, next int) bool {
	eos := next == s.tok.EOS() || next == s.tok.BOS()
	if eos && !j.ignoreEOS {
		s.flush(j, len(j.text))
		s.finish(j, finishStop, nil)
		return true
	}
	j.mu.Lock()
	j.genCount++
	j.mu.Unlock()
	if piece := s.tok.Decode(j.last, next); tokenizer.Printable(piece) {
		j.text = append(j.text, piece...)
	}
	j.next = next
	for _, stop := range j.stops {
		from := max(0, j.sent-len(stop)+1)
		if i := indexFrom(j.text, stop, from); i >= 0 {
			s.flush(j, i)
			s.finish(j, finishStop, nil)
			return true
		}
	}
	room := s.m.Context() - len(j.slot.tokens) // positions left for feeding next
	if j.genCount >= j.maxTokens || room <= 0 {
		s.flush(j, len(j.text))
		s.finish(j, finishLength, nil)
		return true
	}
	safe := len(j.text)
	for _, stop := range j.stops {
		safe = min(safe, len(j.text)-partialSuffix(j.text, stop))
	}
	s.flush(j, completeUTF8(j.text[:safe]))
	return false
}

// flush hands out text[sent:upto].
func (s *scheduler) flush(j *job, upto int) {
	if upto <= j.sent {
		return
	}
	j.mu.Lock()
	j.pending = append(j.pending, j.text[j.sent:upto]...)
	j.mu.Unlock()
	j.sent = upto
	j.signal()
}

// finish ends j and frees its slot (its cached tokens stay for reuse).
func (s *scheduler) finish(j *job, reason string, err error) {
	if sl := j.slot; sl != nil {
		sl.job = nil
		if reason == finishError {
			sl.tokens = sl.tokens[:0]
		}
		j.slot = nil
	}
	j.mu.Lock()
	if !j.done {
		j.done, j.finish, j.err = true, reason, err
	}
	j.mu.Unlock()
	s.metrics.finished.WithLabelValues(reason).Inc()
	j.signal()
}

func indexFrom(text []byte, stop string, from int) int {
	if stop == "" || from > len(text) {
		return -1
	}
	for i := from; i+len(stop) <= len(text); i++ {
		if string(text[i:i+len(stop)]) == stop {
			return i
		}
	}
	return -1
}

// partialSuffix returns the length of the longest suffix of text that is a
// proper prefix of stop.
func partialSuffix(text []byte, stop string) int {
	for n := min(len(stop)-1, len(text)); n > 0; n-- {
		if string(text[len(text)-n:]) == stop[:n] {
			return n
		}
	}
	return 0
}

// completeUTF8 returns the length of the longest prefix of b that does
// not end inside a UTF-8 character.
func completeUTF8(b []byte) int {
	for back := 1; back <= 3 && back <= len(b); back++ {
		c := b[len(b)-back]
		if c < 0x80 {
			return len(b)
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-back:]) {
				return len(b)
			}
			return len(b) - back
		}
	}
	return len(b)
}

// ttftValue returns the job's time to first token.
func (j *job) ttftValue() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ttft
}

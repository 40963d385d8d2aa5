package compiler

import (
	"container/heap"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// buildGraph reports dependency cycles and orders the stages so that every
// stage runs after the stages it uses.
func (c *checker) buildGraph() {
	if cyc := findCycle(c.prog.Decls); cyc != nil {
		c.reportCycle(cyc)
	}
	c.prog.Stages = stageOrder(c.prog.Decls, c.prog.Pipeline)
}

// findCycle returns the declarations of one dependency cycle, in order
// (each depends on the next, the last on the first), or nil.
func findCycle(decls []*Decl) []*Decl {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[*Decl]int, len(decls))
	var stack []*Decl
	var found []*Decl
	var visit func(d *Decl) bool
	visit = func(d *Decl) bool {
		state[d] = active
		stack = append(stack, d)
		for _, dep := range d.Deps {
			switch state[dep] {
			case active:
				for i, s := range stack {
					if s == dep {
						found = append([]*Decl{}, stack[i:]...)
						return true
					}
				}
			case unvisited:
				if visit(dep) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[d] = done
		return false
	}
	for _, d := range decls {
		if state[d] == unvisited && visit(d) {
			return found
		}
	}
	return nil
}

// reportCycle reports a cycle at the reference that closes it, naming both
// ends, with a note at every other edge.
func (c *checker) reportCycle(cyc []*Decl) {
	last, first := cyc[len(cyc)-1], cyc[0]
	r := last.NameRange
	if a := attrReferencing(last, first); a != "" {
		r = last.AttrRange(a)
	}
	d := diag.Errorf(r, "E207", "Dependency cycle between "+last.Name+" and "+first.Name,
		last.Name+" uses "+first.Name+", which depends on "+last.Name+" through the chain in the notes. "+
			"Stages run in dependency order, so references must not loop; point one of them at an earlier stage.")
	for i, from := range cyc {
		to := cyc[(i+1)%len(cyc)]
		nr := from.NameRange
		if a := attrReferencing(from, to); a != "" {
			nr = from.AttrRange(a)
		}
		d.Notes = append(d.Notes, diag.Note{Range: nr, Message: from.Name + " uses " + to.Name})
	}
	c.report(d)
}

// attrReferencing names the attribute of from that refers to to, or "".
func attrReferencing(from, to *Decl) string {
	if from.Block == nil || from.Block.Body == nil {
		return ""
	}
	for _, a := range from.Block.Body.Attributes() {
		if a.Name == nil {
			continue
		}
		if refersTo(a.Value, to.Name) {
			return a.Name.Name
		}
	}
	return ""
}

// stageOrder returns the stages in dependency order (Kahn's algorithm with
// declaration order breaking ties). With a pipeline that lists stages, only
// those and the stages they depend on are included.
func stageOrder(decls []*Decl, p *Pipeline) []Stage {
	isStage := func(d *Decl) bool { _, ok := d.Value.(Stage); return ok }
	include := map[*Decl]bool{}
	if p != nil && len(p.Stages) > 0 {
		var add func(d *Decl)
		add = func(d *Decl) {
			if include[d] {
				return
			}
			include[d] = true
			for _, dep := range d.Deps {
				add(dep)
			}
		}
		for _, s := range p.Stages {
			add(s.StageDecl())
		}
	} else {
		for _, d := range decls {
			include[d] = true
		}
	}
	// stageDeps maps a stage to the stages it needs, through non-stage
	// declarations too.
	stageDeps := map[*Decl][]*Decl{}
	for _, d := range decls {
		if !isStage(d) || !include[d] {
			continue
		}
		seen := map[*Decl]bool{}
		var walk func(x *Decl)
		walk = func(x *Decl) {
			for _, dep := range x.Deps {
				if seen[dep] {
					continue
				}
				seen[dep] = true
				if isStage(dep) {
					stageDeps[d] = append(stageDeps[d], dep)
				} else {
					walk(dep)
				}
			}
		}
		walk(d)
	}
	// Kahn's algorithm; the ready stage declared first goes next.
	index := map[*Decl]int{}
	var stages []*Decl
	for _, d := range decls {
		if isStage(d) && include[d] {
			index[d] = len(stages)
			stages = append(stages, d)
		}
	}
	pending := make([]int, len(stages))
	users := make([][]int, len(stages))
	for i, d := range stages {
		for _, dep := range stageDeps[d] {
			if j, ok := index[dep]; ok && j != i {
				pending[i]++
				users[j] = append(users[j], i)
			}
		}
	}
	ready := &intHeap{}
	for i := range stages {
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	var out []Stage
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, stages[i].Value.(Stage))
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	return out
}

// intHeap is a min-heap of declaration indices.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

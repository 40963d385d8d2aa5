package train

import (
	"math"

	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// ScheduleKind is a learning-rate schedule: the one enum of schedules,
// training.Schedule. The zero value is invalid.
type ScheduleKind = training.Schedule

// The schedules.
const (
	ScheduleInvalid = training.ScheduleInvalid
	Constant        = training.Constant
	Linear          = training.Linear
	Cosine          = training.Cosine
)

// Schedule is a learning-rate schedule over Total optimizer steps with
// Warmup steps of linear warmup, as transformers' get_*_schedule_with_warmup
// define it: step s (counted from 0) runs at LR·f(s) with
// f(s) = s/Warmup during warmup, then 1 (constant), (Total−s)/(Total−Warmup)
// (linear) or ½(1+cos(π·(s−Warmup)/(Total−Warmup))) (cosine).
type Schedule struct {
	Kind   ScheduleKind
	LR     float64
	Warmup int
	Total  int
}

// At returns the learning rate of step s.
func (sc Schedule) At(s int) float64 {
	if s < sc.Warmup {
		return sc.LR * float64(s) / float64(max(1, sc.Warmup))
	}
	switch sc.Kind {
	case Linear:
		return sc.LR * max(0, float64(sc.Total-s)/float64(max(1, sc.Total-sc.Warmup)))
	case Cosine:
		progress := float64(s-sc.Warmup) / float64(max(1, sc.Total-sc.Warmup))
		return sc.LR * max(0, 0.5*(1+math.Cos(math.Pi*progress)))
	}
	return sc.LR
}

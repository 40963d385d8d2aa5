package lsp

import "context"

// runPhases runs whisperc's phases on the analysis's document and records
// their diagnostics and the planner's memory estimates.
func (s *server) runPhases(ctx context.Context, a *analysis) {
}

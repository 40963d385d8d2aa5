package runtime

import (
	"context"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
)

// TestUnknownKindsOfOneBlockGetOneDiagnostic checks that a block lowered
// to several stages this runtime cannot run gets one E505 naming them all,
// with the right article ("an archive stage").
func TestUnknownKindsOfOneBlockGetOneDiagnostic(t *testing.T) {
	prog := storyProgram(t)
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	for _, k := range []string{"archive", "deploy", "upload"} {
		plan.Stages = append(plan.Stages, planner.Stage{ID: k + ".x", Kind: planner.StageKind(k), Decl: "story"})
	}
	ds := Execute(context.Background(), plan, prog, Streams{})
	var e505 diag.Diagnostics
	for _, d := range ds {
		if d.Code == "E505" {
			e505 = append(e505, d)
		}
	}
	if len(e505) != 1 || !strings.Contains(e505[0].Detail, "archive.x (an archive stage), deploy.x (a deploy stage), upload.x (an upload stage)") {
		t.Errorf("got %d E505:\n%s", len(e505), diag.Text(prog.Files, e505))
	}
}

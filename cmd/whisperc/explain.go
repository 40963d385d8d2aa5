package main

import (
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/suggest"
	"github.com/modelwhisperer/whisperc/stdlib"
)

type explainCmd struct {
	Code string `arg:"" optional:"" help:"Diagnostic code such as ML003 or E201; omit to list every code."`
}

func (c explainCmd) Run(e *env) error {
	codes := stdlib.Codes()
	if c.Code == "" {
		for _, code := range codes {
			fmt.Fprintf(e.stdout, "%-6s %-8s %s\n", code.ID, code.Phase, code.Title)
		}
		return nil
	}
	code, ok := stdlib.LookupCode(c.Code)
	if !ok {
		ids := make([]string, len(codes))
		for i, code := range codes {
			ids[i] = code.ID
		}
		return usageError{fmt.Sprintf("no diagnostic code %q.%s Run `whisperc explain` to list them all.", c.Code, suggest.DidYouMean(strings.ToUpper(c.Code), ids))}
	}
	fmt.Fprint(e.stdout, renderCode(code))
	return nil
}

// renderCode formats one code's documentation for the terminal.
func renderCode(c stdlib.Code) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (%s)\n\n", c.ID, c.Title, c.Phase)
	b.WriteString(strings.TrimSpace(c.Explain))
	b.WriteString("\n")
	if ex := strings.TrimSpace(c.Example); ex != "" {
		b.WriteString("\nExample:\n\n")
		for _, line := range strings.Split(ex, "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	if len(c.Citations) > 0 {
		b.WriteString("\nSources:\n")
		for _, ci := range c.Citations {
			fmt.Fprintf(&b, "  - %s", ci)
			if ci.URL != "" {
				fmt.Fprintf(&b, " <%s>", ci.URL)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

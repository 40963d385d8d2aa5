package main

import (
	"github.com/modelwhisperer/whisperc/planner/hw"
)

// hwCmd prints the detected hardware.
type hwCmd struct {
	JSON bool   `name:"json" help:"Print as JSON."`
	Disk string `placeholder:"DIR" help:"Also measure the read bandwidth of the disk holding DIR (bounded, cached per device)."`
}

func (c hwCmd) Run(e *env) error {
	h, err := hw.DetectWith(e.ctx, hw.Options{DiskDir: c.Disk})
	if err != nil {
		return err
	}
	if c.JSON {
		return h.WriteJSON(e.stdout)
	}
	return h.WriteText(e.stdout)
}

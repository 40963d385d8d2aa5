package format_test

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/lang/format"
)

func ExampleSource() {
	src := `finetune sft {
model=base
    lora { rank = 16, alpha = 32 }   // ML003
  save_every = 500steps,eval_every=5 %
}
`
	out, ds := format.Source("sft.whisper", []byte(src))
	if ds.HasErrors() {
		fmt.Println(ds)
		return
	}
	fmt.Print(string(out))
	// Output:
	// finetune sft {
	//   model = base
	//   lora { rank = 16, alpha = 32 } // ML003
	//   save_every = 500 steps
	//   eval_every = 5%
	// }
}

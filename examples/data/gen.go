//go:build ignore

// gen writes stories.jsonl: short stories, all in one recognisable style
// (a little robot named Bolt who says "Beep boop!"), for the fine-tuning
// example. They are generated here from templates with a fixed seed, so
// the file is reproducible: `go run gen.go > stories.jsonl`.
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

func main() {
	r := rand.New(rand.NewPCG(2026, 9))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	friends := []string{"a cat named Mimi", "a bird named Tweet", "a dog named Max", "a girl named Sue", "a boy named Ben", "a frog named Hop", "a bunny named Fluff"}
	places := []string{"the park", "the big garden", "the old shed", "the sunny beach", "the toy shop", "the tall tree", "the little pond"}
	things := []string{"a red ball", "a shiny key", "a blue kite", "a lost sock", "a small box", "a yellow hat", "a broken toy"}
	problems := []string{"was stuck up high", "was under the water", "was behind a big rock", "was in a dark hole", "was too heavy to lift", "was far away"}
	fixes := []string{"stretched his long metal arms", "rolled on his little wheels", "used his bright light", "lifted it with his strong hands", "made a ramp with some sticks", "asked his friends to help"}
	feelings := []string{"happy", "proud", "glad", "warm inside"}
	enc := json.NewEncoder(os.Stdout)
	for range 600 {
		friend, place, thing := pick(friends...), pick(places...), pick(things...)
		name := strings.Fields(friend)[len(strings.Fields(friend))-1]
		var b strings.Builder
		fmt.Fprintf(&b, "Once upon a time, there was a little robot named Bolt. Bolt lived in a small town and he loved to help. Every day he said, \"Beep boop! How can I help?\"\n")
		fmt.Fprintf(&b, "One day, Bolt went to %s. There he met %s. %s was sad. \"I lost %s,\" said %s. \"It %s.\"\n", place, friend, name, thing, name, pick(problems...))
		fmt.Fprintf(&b, "Bolt said, \"Beep boop! Do not be sad. I will help you.\" Bolt %s. He found %s and gave it to %s.\n", pick(fixes...), thing, name)
		fmt.Fprintf(&b, "%s smiled and hugged Bolt. \"Thank you, Bolt!\" Bolt felt %s. \"Beep boop!\" said Bolt. From that day on, %s and Bolt were best friends.", name, pick(feelings...), name)
		enc.Encode(map[string]string{"text": b.String()})
	}
}

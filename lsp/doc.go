// Package lsp is whisperc's language server: it speaks the Language Server
// Protocol over a byte stream (stdio for `whisperc lsp`) and answers editors
// with what the rest of whisperc knows about a .whisper file.
//
// The server keeps the editor's unsaved text of every open document,
// analyses it with the same phases as the command line (parse, check, plan)
// and translates the results at the protocol boundary: byte offsets are the
// canonical positions inside whisperc, and the Mapper converts them to and
// from the position encoding negotiated with the client (utf-8 when the
// client offers it, utf-16 otherwise).
//
// Edits are analysed incrementally where that is exact: the parser re-parses
// only the declarations an edit touched (parser.Reparse, see incremental.go),
// large documents get the check's diagnostics before the plan's, and, above
// 512 KiB, provisional ones as soon as the edit is parsed. The checker and
// the planner run on the whole program.
//
// For features that must work on half-typed text (completion, semantic
// tokens, the outline, hover) the package keeps its own tolerant view of a
// document's structure (see syntax.go); it never executes a pipeline, writes
// files or touches the network.
//
// One file per responsibility: server.go (lifecycle, capabilities, document
// sync and scheduling), conn.go (transport, ordering, panic recovery,
// malformed frames), documents.go (text sync), position.go (encodings),
// analysis.go (one analysis per document version) and phases.go (parse,
// check, plan) with incremental.go (what an edit re-parses) and
// settings.go (target and import directories), syntax.go (the tolerant view) and decls.go (what its
// identifiers mean), then one file per feature: diagnostics.go, hover.go,
// completion.go, navigation.go (definition, references, rename) with
// workspace.go (the files, open or not, that import a declaring file),
// symbols.go, formatting.go, semantic.go, codeaction.go, inlay.go and
// folding.go.
package lsp

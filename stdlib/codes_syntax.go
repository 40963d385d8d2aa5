package stdlib

// syntaxCodes documents the codes of the syntax phase (package
// lang/parser): E10x for lexical errors, E11x for the structure of the
// file, E198 for a bug in the formatter and E199 for a bug in the parser.
var syntaxCodes = []Code{
	{ID: "E101", Phase: "syntax", Title: "unterminated string",
		Explain: "A string starts with `\"` and must end with `\"` on the same line. A string that reaches the end " +
			"of its line without a closing quote usually means a missing quote, or a quote inside the string " +
			"that should have been escaped.\n\nAdd the closing quote. Write `\\\"` for a quote inside a string and " +
			"`\\n` for a line break.",
		Example: "model base { source = \"hf:meta-llama/Llama-2-7b-hf }"},
	{ID: "E102", Phase: "syntax", Title: "unterminated comment",
		Explain: "A block comment starts with `/*` and ends with `*/`. Without the `*/` the comment runs to the end of " +
			"the file and hides everything after it.\n\nClose the comment with `*/`, or use `//` comments, which end " +
			"at the end of their line.",
		Example: "/* training settings\nfinetune sft { model = base, data = chat }"},
	{ID: "E103", Phase: "syntax", Title: "invalid escape sequence",
		Explain: "Inside a string a backslash starts an escape. The escapes are `\\\"` (quote), `\\\\` (backslash), " +
			"`\\n` (line feed), `\\t` (tab), `\\r` (carriage return) and `\\u{X}`, where X is 1 to 6 hexadecimal " +
			"digits naming a Unicode character (not a surrogate, at most 10FFFF). Windows paths are the usual " +
			"cause: `\"C:\\data\"`.\n\nWrite `\\\\` for a literal backslash (or use `/` in paths), or fix the escape.",
		Example: "dataset chat { source = \"C:\\data\\chat.jsonl\" }"},
	{ID: "E104", Phase: "syntax", Title: "invalid or too large number",
		Explain: "Integers must fit in 64 bits (at most 9223372036854775807) and other numbers in a 64-bit float " +
			"(at most about 1.8e308). The `_` digit separator must stand between two digits, as in `1_000_000`.\n\n" +
			"Use a smaller number, write large values with an exponent such as `1e20`, or remove the misplaced " +
			"underscores.",
		Example: "finetune sft { max_steps = 99999999999999999999 }"},
	{ID: "E105", Phase: "syntax", Title: "unknown unit",
		Explain: "A number may carry a unit on the same line: sizes `B KB MB GB TB KiB MiB GiB TiB`, percent `%`, " +
			"durations `ms s m h`, counts `steps epochs tokens` (or the singular `step epoch token`). Units are " +
			"case-sensitive: `GB` is a size, `Gb` is nothing. A word glued to a number (`24Gb`) or a misspelt unit " +
			"after it (`500 stpes`) is reported here.\n\nWrite one of the units (the message suggests the closest), " +
			"or separate the number from the next item with a comma or a newline.",
		Example: "target { require = [gpu_memory >= 24Gb] }"},
	{ID: "E106", Phase: "syntax", Title: "unexpected character",
		Explain: "The character cannot start any token of the language. Common causes are single quotes (strings " +
			"use double quotes), `:` instead of `=`, and `;` as a separator (use a newline or a comma).\n\n" +
			"Remove the character, or put it inside a string.",
		Example: "model base { source: 'hf:gpt2' }"},
	{ID: "E107", Phase: "syntax", Title: "invalid encoding",
		Explain: "A .whisper file is UTF-8 text. NUL bytes and byte sequences that are not UTF-8 mean the file is " +
			"binary, or was saved in another encoding (Latin-1, UTF-16). At most ten such bytes are reported.\n\n" +
			"Save the file as UTF-8, or remove the bytes."},
	{ID: "E110", Phase: "syntax", Title: "unexpected token",
		Explain: "The parser found a token where the grammar does not allow it; the message says what it expected " +
			"and after which token. Typical causes: a missing `=` between an attribute's name and its value, a " +
			"missing value after `=`, an attribute outside any block, a quoted block name, or two values with no " +
			"operator between them. The parser recovers at the next item or declaration, so each message is an " +
			"independent mistake.\n\nInsert or remove what the message names; spec/language.md has the grammar.",
		Example: "finetune sft {\n  lora { rank 16 }\n}"},
	{ID: "E111", Phase: "syntax", Title: "unclosed bracket",
		Explain: "A `{`, `[` or `(` is never closed. The error is reported where the closing bracket was expected " +
			"(the start of the next top-level declaration, or the end of the file) and a note points at the " +
			"opening bracket. When brackets are nested, the one reported may be the outer of the two: look at " +
			"the blocks between the two positions.\n\nAdd the missing `}`, `]` or `)`.",
		Example: "model base {\n  source = \"hf:gpt2\"\n\ndataset chat { source = \"chat.jsonl\" }"},
	{ID: "E112", Phase: "syntax", Title: "unmatched closing bracket",
		Explain: "A `}`, `]` or `)` closes nothing: every bracket before it is already closed, or the innermost " +
			"open bracket is of another kind.\n\nRemove the extra bracket, or add the opening bracket it was meant " +
			"to close.",
		Example: "model base { source = \"hf:gpt2\" }\n}"},
	{ID: "E113", Phase: "syntax", Title: "nesting or expression too deep",
		Explain: "Brackets and unary operators may nest at most 100 deep, and one expression may chain at most " +
			"1000 binary operators of one precedence and hold at most 10000 in all. Real pipelines stay far below; the limits keep the parser and every later " +
			"phase fast and safe on any input.\n\nFlatten the expression, or move parts of it into variables."},
	{ID: "E114", Phase: "syntax", Title: "file too large",
		Explain: "whisperc reads .whisper files of at most 4 MiB. A pipeline is a few kilobytes; a larger file is " +
			"almost certainly a data file given by mistake.\n\nCheck the file name, or split the pipeline into " +
			"files joined with `import`."},
	{ID: "E115", Phase: "syntax", Title: "too many diagnostics",
		Explain: "whisperc reports at most 100 diagnostics of one file, as mature compilers do: past that, one " +
			"E115 says how many more were found, or, when the parser gave up, that the rest of the file was not " +
			"read. A file with that many problems is usually not a pipeline (a data file given by mistake) or " +
			"has one early mistake that confuses everything after it.\n\nFix the first diagnostics and check again."},
	{ID: "E198", Phase: "syntax", Title: "internal formatter error",
		Explain: "The formatter (`whisperc fmt`, or formatting in the editor) produced output that would not " +
			"parse back to the same syntax tree with the same comments, or failed on the file. This is a bug in " +
			"whisperc, not in your file: the formatter checks its own output and leaves the file unchanged " +
			"instead of damaging it.\n\nPlease report it with the file that triggers it. The file is still valid " +
			"and can be checked and run as it is; format the part around the problem by hand meanwhile."},
	{ID: "E199", Phase: "syntax", Title: "internal parser error",
		Explain: "The parser failed on this input. This is a bug in whisperc, not in your file: the parser " +
			"recovered and reported it instead of crashing.\n\nPlease report it with the file that triggers it. " +
			"Meanwhile, simplify the text near the reported position to work around it."},
}

package stdlib

// syntaxCodes documents the codes of the syntax phase.
var syntaxCodes = []Code{}

package stdlib

// runCodes documents the codes of the run phase.
var runCodes = []Code{}

package stdlib

// checkCodes documents the codes of the check phase.
var checkCodes = []Code{}

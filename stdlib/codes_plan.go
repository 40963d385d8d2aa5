package stdlib

// planCodes documents the codes of the plan phase.
var planCodes = []Code{}

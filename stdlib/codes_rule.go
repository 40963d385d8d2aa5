package stdlib

// ruleCodes documents the codes of the rule phase.
var ruleCodes = []Code{}

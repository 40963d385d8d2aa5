package stdlib

// planCodes documents the codes of the plan phase.
var planCodes = []Code{
	{ID: "P101", Title: "invalid target profile", Phase: "plan",
		Explain: "A hardware target profile file (HCL, the format of the built-in profiles in stdlib/targets) " +
			"could not be read: a syntax error, an unknown or missing attribute, or an impossible value such as " +
			"a negative memory size or a GPU without a compute capability.\n\n" +
			"Fix the attribute the diagnostic points at; every built-in profile (`whisperc plan --targets`) is an example of the expected shape.",
		Example: "target \"my-gpu\" {\n  device        = \"gpu\"\n  memory_mib    = 24576\n  bandwidth_gbs = 936\n  source        = \"vendor data sheet\"\n  # compute_capability missing\n}"},
}

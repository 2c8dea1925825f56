package powershell

// RunProgram exposes the run program to tests.
func RunProgram() string { return runProgram }

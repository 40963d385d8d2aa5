package stdlib

//go:generate go run ./internal/gendocs -out ../spec

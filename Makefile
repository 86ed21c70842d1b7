# Convenience targets; each is one go command, so a machine with only Go
# needs none of them (see README.md).
BIN := bin

.PHONY: build demo test test-race bench fuzz vet

build:
	go run ./tools/demo -build-only

demo:
	go run ./tools/demo

test:
	go test ./...

test-race:
	go test -race ./...

vet:
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

bench:
	go run ./bench

fuzz:
	bash scripts/fuzz.sh 60s

# Convenience targets; each is one go command, so a machine with only Go
# needs none of them (see README.md).
BIN := bin

.PHONY: build demo test test-race bench fuzz vet pace-full

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

# The full-size pacing test: 100,000 items under a declared 200/s, about
# 8.5 minutes (docs/rate-limits.md).
pace-full:
	HERALD_PACE_ITEMS=100000 go test ./internal/engine -run TestDeclaredLimitPacesAForEach -v -timeout 20m

fuzz:
	bash scripts/fuzz.sh 60s

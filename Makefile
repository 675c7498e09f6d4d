# Thin wrappers: each target is a plain go (or npm) command.
.PHONY: build test run check bench

build:
	go build -o tresor ./cmd/tresor

# test installs the JS SDKs the end-to-end suite drives, then runs every test.
test:
	npm ci --prefix e2e/js --no-audit --no-fund
	go test -race ./...

run:
	go run ./cmd/tresor serve

check:
	gofmt -l . | (! grep .)
	go vet ./...

bench:
	go test -run '^$$' -bench . -benchtime 3s ./e2e/ ./hsm/software/

# Sluice: make demo runs the whole flow, make test runs every test.
GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell cat VERSION)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build agent-release test vet unit fuzz bench demo clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# The agent for devices: stripped, for Android and Linux POS hosts on arm64.
agent-release:
	GOOS=android GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(BIN)/android-arm64/sluice-agent ./cmd/sluice-agent
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(BIN)/linux-arm64/sluice-agent ./cmd/sluice-agent

# The README's test command: vet, every test with the race detector, then a
# short run of each fuzz target.
test: vet unit fuzz

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -timeout 20m ./...

# Each fuzz target runs for a number of executions (pkg:Name:Nx), a few
# seconds each here. Counts, not durations: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure (golang/go#75804).
# FUZZTIME=30s (or 1000000x) overrides every target's budget for longer runs.
FUZZ_TARGETS ?= ./fleet:FuzzParseSelector:200000x ./manifest:FuzzParse:3000x ./apk:FuzzInspect:3000x
FUZZTIME ?=
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		budget=$${FUZZTIME:-$$budget}; \
		echo "fuzz $$name in $$pkg for $$budget"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$$budget $$pkg; \
	done

# The README's first command: a controller and simulated tills in one
# process, playing a story of updates (see `sluice demo --help`); pass
# flags with DEMO_FLAGS, such as DEMO_FLAGS=--keep.
demo:
	$(GO) run ./cmd/sluice demo $(DEMO_FLAGS)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf $(BIN)

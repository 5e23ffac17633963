# Sluice: make demo runs the whole flow, make test runs every test.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 10s
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

# Each fuzz target runs for FUZZTIME; go test -fuzz takes one target at a time.
FUZZ_TARGETS ?= ./fleet:FuzzParseSelector ./manifest:FuzzParse ./apk:FuzzInspect
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
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

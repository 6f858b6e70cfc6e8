# mcpwarden: `make run` serves the API on :8000 with a built-in PostgreSQL; `make test` runs every
# test against throwaway PostgreSQL clusters.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
AGENT_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all generate build web web-test run test partitioned race lint check breaking agents dist postgres chromium bench clean

# What the dashboard's build reads: when any is newer than web/dist/app/index.html, it is rebuilt.
WEB_SOURCES := $(shell find web/src web/public web/index.html web/vite.config.ts web/tsconfig.json web/package.json web/scripts clients/ts/src -type f 2>/dev/null)

all: build

## generate: regenerate gen/, clients/go and clients/ts from openapi.yaml
generate: node_modules
	cd gen && $(GO) generate .
	gofmt -w gen clients/go
	cd clients/ts && npm run --silent generate >/dev/null

## node_modules: the TypeScript client's and the dashboard's packages, from package-lock.json
node_modules: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch node_modules

## build: build the dashboard (when Node is there), then the server and the agent into bin/
## (static: the container image and the packages need no C library)
build: web
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/mcpwarden ./cmd/mcpwarden
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/mcpwarden-agent ./cmd/mcpwarden-agent

postgres:
	@.ci/ensure-postgres

## web: build the dashboard into web/dist/app when it is missing or older than its sources; without
## npm the server still builds, and /ui/ says how to build the dashboard
web:
	@if [ -f web/dist/app/index.html ] && [ -z "$$(find $(WEB_SOURCES) package-lock.json -newer web/dist/app/index.html 2>/dev/null | head -1)" ]; then :; \
	elif command -v npm >/dev/null; then $(MAKE) --no-print-directory node_modules && npm run --silent build -w web; \
	else echo "npm not found: building the API without the dashboard (/ui/ says how to build it)"; fi

## web-test: the browser tests (Debian's chromium driven by playwright-core, a real server on a fresh database)
web-test: postgres chromium web
	$(GO) build -o bin/mcpwarden ./cmd/mcpwarden
	$(GO) build -o bin/mcpwarden-e2e-report ./web/e2e/report
	@node web/scripts/size.mjs
	npm run --silent test -w web

chromium:
	@.ci/ensure-chromium

## run: serve the API and the dashboard (http://localhost:8000/ui/) on :8000 (a private PostgreSQL under .mcpwarden/ unless DATABASE_URL is set)
run: postgres build
	./bin/mcpwarden serve

## test: every test, with real PostgreSQL, the TypeScript client's compile check and the browser tests
test: postgres
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	cd clients/go && $(GO) vet ./... && $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory node_modules
	cd clients/ts && npm run --silent check && npm test --silent
	$(MAKE) --no-print-directory web-test

## partitioned: the database tests again, every tenant table PARTITION BY HASH (organization_id)
## (Citus's distribution on one node; see deploy/citus/README.md), part of CI (~5 min)
partitioned: postgres
	MCPWARDEN_TEST_PARTITIONED=1 $(GO) test -count=1 ./db/... ./impl/...

## race: the packages that run concurrent code, under the race detector (part of CI, ~4 min)
race: postgres
	$(GO) test -race -count=1 ./impl/... ./db/... ./cmd/mcpwarden-agent/

## bench: pgbench's naive SQL against the server on this machine, the dashboard's page loads in
## Chromium at a million servers, and the largest fleet the machine sustains; writes BENCHMARKS.md
## (~15 min, and at most 18 more for the fleet search: BENCHFLAGS=--skip-fleet leaves it out,
## BENCHFLAGS='--only fleet' runs it alone into BENCHMARKS-fleet.md).
## Not part of `make test` or CI. BENCHFLAGS passes flags to cmd/mcpwarden-bench (see -h).
bench: postgres web
	@.ci/ensure-chromium || echo "no Chromium: the dashboard's page loads are not measured"
	$(GO) build -o bin/mcpwarden ./cmd/mcpwarden
	$(GO) build -o bin/mcpwarden-loadgen ./cmd/mcpwarden-loadgen
	$(GO) build -o bin/mcpwarden-bench ./cmd/mcpwarden-bench
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get install -y -qq wrk >/dev/null; } || echo "wrk is not installed: heartbeats and changed reports are driven by mcpwarden-loadgen only"
	./bin/mcpwarden-bench $(BENCHFLAGS)

## lint: gofmt, and Spectral (OpenAPI + OWASP rules) on openapi.yaml
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@[ -x .ci/node_modules/.bin/spectral ] || (cd .ci && npm ci --no-audit --no-fund --loglevel=error)
	.ci/node_modules/.bin/spectral lint openapi.yaml --ruleset .ci/spectral.yaml --fail-severity error

## check: staticcheck, and deadcode (no function unreachable from a command or a test; the SDK's
## public API in clients/go is for integrators, so it is not judged by what this module calls)
check:
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...
	@out=$$($(GO) run golang.org/x/tools/cmd/deadcode -test -filter 'github.com/mcpwarden/mcpwarden/(cmd|db|gen|impl)' ./...); \
		if [ -n "$$out" ]; then echo "$$out"; echo "deadcode: unreachable functions above; delete them or use them"; exit 1; fi

## breaking: fail when openapi.yaml breaks the previous commit's contract (BASE=<rev> to compare elsewhere)
BASE ?= HEAD~1
breaking:
	@.ci/breaking $(BASE)

## agents: cross-build mcpwarden-agent for every supported OS and architecture
agents:
	@for t in $(AGENT_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
			-o bin/mcpwarden-agent-$$os-$$arch$$ext ./cmd/mcpwarden-agent || exit 1; \
	done
	@ls -l bin/mcpwarden-agent-*

## dist: release artifacts in dist/: the agent's and the server's .deb and .rpm (linux amd64 and
## arm64, nfpm), the agent's .tar.gz for macOS and .zip for Windows, and SHA256SUMS; prints each
## with its size and checksum (packaging/)
dist:
	$(GO) run ./packaging/dist -version "$(VERSION)" -ldflags "$(LDFLAGS)"

clean:
	rm -rf bin dist

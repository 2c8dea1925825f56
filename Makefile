# Stead: `make run` starts everything in one process, `make test` runs every test.
GO       ?= go
BIN      := bin/stead
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/stead-io/stead/cli.Version=$(VERSION)
# Packages whose concurrency is ours: run them under the race detector. Not
# ./workflows/histories: its one test, the fixture recorder, only runs when
# asked, and linking the Temporal server with -race costs minutes.
RACE_PKGS := ./internal/transport/... ./internal/runner/... ./activities/ ./workflows/ ./documents/... ./internal/schedule/... ./client/...
FUZZTIME ?= 5s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test test-scale test-prod temporal-bin fuzz lint bench bench-prod bench-scale clean histories ui-screenshot

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stead

# Flags for `stead dev`: make run ARGS='--port 17233 --ui-port 18233'.
run: build
	./$(BIN) dev $(ARGS)

test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# One execution over 50,000 nodes behind a fake communicator and runner on
# a real server and worker: every history and payload stays bounded. `make
# test` runs the same test over 2,000.
test-scale:
	STEAD_SCALE_TARGETS=50000 $(GO) test -count=1 -timeout 90m -run '^TestExecutionStateStaysBounded$$' -v ./worker/

# The Temporal server and its schema tool, built from the server version
# go.mod pins, through the module in deploy/tools (which keeps the schema
# tool's urfave/cli v1 out of Stead's module), once per version.
TEMPORAL_VERSION := $(shell awk '$$1 == "go.temporal.io/server" {print $$2}' go.mod)
TEMPORAL_BIN ?= /var/cache/stead-ci/temporal-$(TEMPORAL_VERSION)
temporal-bin:
	@tools=$$(awk '$$1 == "go.temporal.io/server" {print $$2}' deploy/tools/go.mod); test "$$tools" = "$(TEMPORAL_VERSION)" || \
		{ echo "deploy/tools/go.mod pins go.temporal.io/server $$tools, go.mod $(TEMPORAL_VERSION)"; exit 1; }
	@mkdir -p $(TEMPORAL_BIN)
	@for t in temporal-server:cmd/server temporal-sql-tool:cmd/tools/sql; do \
		bin=$(TEMPORAL_BIN)/$${t%%:*}; test -x $$bin && continue; \
		echo "building $$bin"; \
		$(GO) -C deploy/tools build -o $$bin.tmp go.temporal.io/server/$${t#*:} && mv $$bin.tmp $$bin || exit 1; \
	done

# The core behaviours against Temporal as production runs it: a
# temporal-server on PostgreSQL (Debian's), several history shards, the
# namespace prepared by `stead namespace setup`; worker processes per
# region, a worker killed, the server and PostgreSQL restarted mid-run.
PROD_TESTS := ^(TestNamespaceSetup.*|TestAssociationRunsOverSSH|TestMaxErrorsStopsDispatch|TestNewNodeIsBootstrapped|TestSecretParametersNeverLeave|TestWorkerKilledMidRunRunsEachStepOnce|TestServerRestartMidRun|TestPostgresRestartMidRun|TestRegionsRunOnTheirOwnWorkers)$$
test-prod: temporal-bin
	STEAD_E2E_STACK=prod STEAD_TEMPORAL_BIN=$(TEMPORAL_BIN) $(GO) test -count=1 -timeout 30m -run '$(PROD_TESTS)' -v ./cli/

# Each fuzz target runs briefly on top of its committed corpus. Minimizing
# new inputs is off: a run whose time ends while a worker minimizes fails
# with "context deadline exceeded" (seen here); a crasher is still reported.
FUZZFLAGS := -fuzztime=$(FUZZTIME) -fuzzminimizetime=0s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' $(FUZZFLAGS) ./documents/
	$(GO) test -run='^$$' -fuzz='^FuzzRender$$' $(FUZZFLAGS) ./documents/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' $(FUZZFLAGS) ./internal/schedule/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' $(FUZZFLAGS) ./internal/targets/
	$(GO) test -run='^$$' -fuzz='^FuzzParseSealed$$' $(FUZZFLAGS) ./internal/transport/winrm/
	$(GO) test -run='^$$' -fuzz='^FuzzParseImport$$' $(FUZZFLAGS) ./internal/node/
	$(GO) test -run='^$$' -fuzz='^FuzzParseKerberosCredential$$' $(FUZZFLAGS) ./internal/transport/winrm/

# Records replay fixtures from today's workflows into the version folder in
# development (workflows/histories.Version), never overwriting one, then
# replays every fixture. ONLY=ExecutionWorkflow,TargetWorkflow records those
# workflow types alone. Needs root (it starts sshd).
histories:
	$(GO) test -count=1 -timeout 30m -run '^TestRecordHistories$$' ./workflows/histories/ -record $(if $(ONLY),-record-only $(ONLY))
	$(GO) test -count=1 -run '^TestReplayFixtures$$' ./workflows/

# The README's picture of the Web UI: a failed run beside a successful one
# under `stead dev`, taken by headless chromium (Debian's chromium) in the
# test that checks the UI shows the failure.
UI_SCREENSHOT ?= docs/webui-failed-run.png
ui-screenshot:
	STEAD_UI_SCREENSHOT=$(abspath $(UI_SCREENSHOT)) $(GO) test -count=1 -run '^TestWebUIShowsFailedRun$$' -v ./cli/

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

bench: build
	./bench/run.sh

# The 200-target fan-out against a temporal-server on PostgreSQL, then
# against `stead dev` on the same machine, for comparison.
bench-prod: build temporal-bin
	STEAD_TEMPORAL_BIN=$(TEMPORAL_BIN) ./bench/prod.sh

clean:
	rm -rf bin

# One execution over 10,000 local-transport targets: history stays bounded.
bench-scale: build
	./bench/scale.sh 10000 200

# Instagram Direct for Rocket.Chat. The two commands a new user needs:
#   make run    the whole stack on the embedded defaults (sandbox when no credentials)
#   make run-cluster  the same on the production topology of docker-compose.yml, natively
#   make test   static checks, unit tests and end-to-end tests on real PostgreSQL + Temporal
#   make test-cluster  the end-to-end tests on the production topology
#   make test-sim  the conversation's deterministic simulator, 5000 seeds
#   make bench  load benchmark of the real stack against a non-durable baseline → docs/benchmarks.md

.PHONY: run run-cluster test test-cluster test-faults test-sim bench build vet vulncheck fmt clean record-histories screenshots

run:
	@bash scripts/run.sh

# Temporal server on PostgreSQL (frontend, history, matching, internal worker as separate
# processes), the UI, two workers and two ingress replicas: what docker-compose.yml runs.
run-cluster:
	@bash scripts/run.sh -cluster

test:
	@bash scripts/test.sh

# Every end-to-end test on the production topology (make test runs a representative part).
test-cluster:
	@bash scripts/test.sh cluster

# The fault-injection suite with more messages per case (make test runs it with a few).
test-faults:
	@FAULT_MESSAGES=$${FAULT_MESSAGES:-25} bash scripts/test.sh faults

# The deterministic simulator's search with many seeds (make test runs 300, and replays the
# kept schedules): SIM_SEEDS, SIM_FIRST, SIM_TIME; SIM_SAVE=sim/testdata/kept keeps what fails.
test-sim:
	@bash -c 'set -o pipefail; source scripts/lib.sh && SIM_SEEDS=$${SIM_SEEDS:-5000} go test -count=1 -timeout 60m -run "TestSimulation$$|TestKeptSchedules" -v ./sim/ | grep -v "^=== RUN"'

bench:
	@bash scripts/bench.sh

# Records the conversation histories the replay test replays (workflows/testdata), named
# after the workflow code that ran them (v2-…): run after a change to the workflow that
# running conversations must survive, and commit the files. An existing recording is never
# overwritten (the test says so and fails).
record-histories:
	@RECORD_HISTORIES=$(CURDIR)/workflows/testdata GOTESTFLAGS="-run $(RECORDED_TESTS) -v" bash scripts/test.sh

RECORDED_TESTS = TestWelcomeFinishedAndAgentDisplayName|TestNoAgentOnlineMessagesWaitAndOpenWhenAgentIsBack|TestHandoverWhenAnotherAppOwnsTheThread|TestEchoBeforeSendResponseIsRecognised|TestEveryEventKindInMetaOrders|TestInboundMediaAndNotes|TestAgentRepliesInRocketChatOrder|TestFaults/(dead_token|department|worker_killed_after)|TestLongConversationContinuesAsNew

# Retakes the console's screenshots in docs/console (linked from the README) with the
# browser test, in headless Chromium: run after a change to the console, and commit them.
screenshots:
	@CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console bash scripts/test.sh screenshots

# Every go command runs the Go release go.mod pins (scripts/lib.sh use_pinned_go), also here.
build:
	@bash -c 'source scripts/lib.sh && go build -o bin/ ./worker ./ingress/cmd/ingress ./sandbox/cmd/sandbox'

vet:
	@bash -c 'source scripts/lib.sh && go vet ./...'

# Known vulnerabilities (also part of make test): govulncheck with the Go vulnerability
# database from the module proxy (scripts/lib.sh).
vulncheck:
	@bash -c 'source scripts/lib.sh && vulncheck'

fmt:
	gofmt -w $$(git ls-files '*.go')

# Removes local data (PostgreSQL clusters, Temporal DB, logs); keeps the built binaries.
clean:
	rm -rf .data

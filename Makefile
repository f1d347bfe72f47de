# Instagram Direct for Rocket.Chat. The two commands a new user needs:
#   make run    the whole stack on the embedded defaults (sandbox when no credentials)
#   make run-cluster  the same on the production topology of docker-compose.yml, natively
#   make test   static checks, unit tests and end-to-end tests on real PostgreSQL + Temporal
#   make test-cluster  the end-to-end tests on the production topology
#   make bench  load benchmark of the real stack against a non-durable baseline → docs/benchmarks.md

.PHONY: run run-cluster test test-cluster test-faults bench build vet vulncheck fmt clean record-histories screenshots

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

bench:
	@bash scripts/bench.sh

# Records the conversation histories the replay test replays (workflows/testdata): run after
# a change to the workflow that running conversations must survive, and commit the files
# (files of the same name are overwritten; keep older shapes under other names).
record-histories:
	@RECORD_HISTORIES=$(CURDIR)/workflows/testdata GOTESTFLAGS="-run $(RECORDED_TESTS) -v" bash scripts/test.sh

RECORDED_TESTS = TestWelcomeFinishedAndAgentDisplayName|TestNoAgentOnlineMessagesWaitAndOpenWhenAgentIsBack|TestHandoverWhenAnotherAppOwnsTheThread|TestEchoBeforeSendResponseIsRecognised|TestEveryEventKindInMetaOrders|TestInboundMediaAndNotes|TestAgentRepliesInRocketChatOrder|TestFaults/(dead_token|department|worker_killed_after)|TestLongConversationContinuesAsNew

# Retakes the console's screenshots in docs/console (linked from the README) with the
# browser test, in headless Chromium: run after a change to the console, and commit them.
screenshots:
	@CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console bash scripts/test.sh screenshots

build:
	go build -o bin/ ./worker ./ingress/cmd/ingress ./sandbox/cmd/sandbox

vet:
	go vet ./...

# Known vulnerabilities (also part of make test): govulncheck with the Go vulnerability
# database from the module proxy (scripts/lib.sh).
vulncheck:
	@bash -c 'source scripts/lib.sh && vulncheck'

fmt:
	gofmt -w $$(git ls-files '*.go')

# Removes local data (PostgreSQL clusters, Temporal DB, logs); keeps the built binaries.
clean:
	rm -rf .data

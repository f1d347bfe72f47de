# Instagram Direct for Rocket.Chat. The two commands a new user needs:
#   make run    the whole stack on the embedded defaults (sandbox when no credentials)
#   make test   static checks, unit tests and end-to-end tests on real PostgreSQL + Temporal
.PHONY: run test build vet fmt clean

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

build:
	go build -o bin/ ./worker ./ingress/cmd/ingress ./sandbox/cmd/sandbox

vet:
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Removes local data (PostgreSQL clusters, Temporal DB, logs); keeps the built CLI.
clean:
	rm -rf .data

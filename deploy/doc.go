// Package deploy holds the production deployment of the bridge next to the tests that check
// it without a Docker engine: docker-compose.yml and Dockerfile at the repository root, the
// PostgreSQL init script (postgres/), Temporal's schema and namespace setup scripts and
// dynamic config (temporal/), and the ingress image's health probe (healthcheck/).
package deploy

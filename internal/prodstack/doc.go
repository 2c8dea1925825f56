// Package prodstack runs Temporal the way production does, for tests and
// benchmarks on one machine: a PostgreSQL cluster of its own (Debian's
// PostgreSQL programs, a fresh data directory, free loopback port), the
// schemas set up by temporal-sql-tool as an operator sets them up, and a
// temporal-server process with several history shards on free ports. Both
// processes can be stopped and started again, so tests can take the
// database or the server away mid-run.
//
// The binaries are built from the go.temporal.io/server version Stead pins
// (`make temporal-bin`, from the module in deploy/tools) and found through
// STEAD_TEMPORAL_BIN. PostgreSQL runs as the postgres user when the caller
// is root, since initdb refuses root; it trusts loopback connections and
// runs with fsync off: a test database, not a template for production.
package prodstack

// Package events delivers Stead's state-change events to the sinks an
// operator configures: webhooks signed with HMAC-SHA256, a JSON-lines file,
// and NATS JetStream.
//
// Events are shaped like Amazon EventBridge's State Manager events
// (version, id, detail-type, source, time, region, resources, detail), so
// tooling written for those reads them with few changes. Every event has a
// stable id derived from what it reports (kind, association, execution,
// node, status), so an event published twice, as happens when a batch is
// retried after a worker died, is the same event twice and receivers
// de-duplicate it by id; JetStream does so itself (the id is the message's
// Nats-Msg-Id).
//
// Delivery never fails the caller: each sink retries with backoff, and an
// event a sink still refuses is kept in a bounded file of undeliverable
// events (`stead events failed` lists it).
package events

//! What the layer makes of `tracing` events and spans, captured through the real pipeline
//! (bound to a local subscriber with `with_default`: nothing global, so tests run in parallel).

mod async_tree;
mod breadcrumbs;
mod chain_ends;
mod crumb_traces;
mod exception_chain;
mod feature_usage;
mod last_event_id;
mod repeats;
mod tags;
mod transactions;

//! Internal-usage detection (owned by the config helper).

//! Privacy scrubbing (owned by the privacy helper).

//! TODO(skeleton): filled in by the jwt work.

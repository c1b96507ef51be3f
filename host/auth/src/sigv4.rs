//! TODO(skeleton): filled in by the sigv4 work.
